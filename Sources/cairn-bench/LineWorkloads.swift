import CairnCore
import NIOCore

/// What a checked answer means for the operation it belongs to.
enum LineStep: Equatable {
    /// Send the operation's next request (step + 1), carrying `state` to it.
    case next(state: Int)
    /// The operation succeeded.
    case done
    /// The operation failed: it counts as a failed request.
    case failed(String)
}

/// A workload of the line driver: the requests of one operation, one after another, and the
/// check of each answer. Error answers never reach `check` (they fail the operation).
protocol LineWorkload: Sendable {
    /// Writes request `step` (0 first) of operation `sequence` of `worker`, after its id.
    func request(step: Int, worker: Int, sequence: Int, state: Int, into buffer: inout ByteBuffer)
    /// Checks the result answering request `step`.
    func check(step: Int, worker: Int, sequence: Int, state: Int, answer: ResponseScan) -> LineStep
}

/// `get` of one of `keys` seeded items: the answer must be an item (not `null`), with a version.
struct LineGet: LineWorkload {
    let requests: LineRequests
    let keys: Int
    /// Test hook: every 10th get reads a key never written (`m<n>`), so its check must fail.
    var injectUnwritten = false

    func key(_ sequence: Int) -> (prefix: StaticString, number: Int) {
        injectUnwritten && sequence % 10 == 9 ? ("m", sequence) : ("k", sequence % keys)
    }

    func request(step: Int, worker: Int, sequence: Int, state: Int, into buffer: inout ByteBuffer) {
        let (prefix, number) = key(sequence)
        requests.get(prefix, number, into: &buffer)
    }

    func check(step: Int, worker: Int, sequence: Int, state: Int, answer: ResponseScan) -> LineStep {
        if answer.resultIsNull {
            let (prefix, number) = key(sequence)
            return .failed("get \(prefix)\(number) answered null, but the set-up wrote it")
        }
        guard let version = answer.version, version >= 1 else {
            return .failed("get k\(sequence % keys) answered something without an item version")
        }
        return .done
    }
}

/// `put` without `if_version`, cycling through `keys` keys: the answer must carry the new version.
struct LinePut: LineWorkload {
    let requests: LineRequests
    let keys: Int

    func request(step: Int, worker: Int, sequence: Int, state: Int, into buffer: inout ByteBuffer) {
        requests.put("k", sequence % keys, sample: sequence, into: &buffer)
    }

    func check(step: Int, worker: Int, sequence: Int, state: Int, answer: ResponseScan) -> LineStep {
        guard let version = answer.version, version >= 1 else {
            return .failed("put k\(sequence % keys) answered something without a version")
        }
        return .done
    }
}

/// `get` of the worker's own key, then `put` with `if_version` = the version read (0 when
/// absent). Only this worker writes its key, so the write must make exactly the next version.
struct LinePutCAS: LineWorkload {
    let requests: LineRequests
    /// Test hook: every 10th write sends an if_version one past the version read, so cairnd
    /// must answer version_conflict.
    var injectWrongVersion = false

    func request(step: Int, worker: Int, sequence: Int, state: Int, into buffer: inout ByteBuffer) {
        if step == 0 {
            requests.get("w", worker, into: &buffer)
        } else {
            let wrong = injectWrongVersion && sequence % 10 == 9
            requests.put("w", worker, sample: sequence, ifVersion: wrong ? state + 1 : state, into: &buffer)
        }
    }

    func check(step: Int, worker: Int, sequence: Int, state: Int, answer: ResponseScan) -> LineStep {
        if step == 0 {
            if answer.resultIsNull { return .next(state: 0) }
            guard let version = answer.version, version >= 1 else {
                return .failed("get w\(worker) answered something without an item version")
            }
            return .next(state: version)
        }
        guard answer.version == state + 1 else {
            return .failed(
                "put w\(worker) with if_version \(state) answered version \(answer.version.map(String.init) ?? "none"), expected \(state + 1)")
        }
        return .done
    }
}
