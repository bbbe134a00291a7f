import CairnCore
import OrderedCollections

/// The protocol's version numbers, announced in `hello`.
public enum ProtocolInfo {
    public static let protocolVersion = 1
    public static let serverVersion = "0.1.0"
    public static let defaultPort = 7420
    public static let defaultMaxLineBytes = 1_048_576
}

/// One JSON-RPC request as read off the wire.
public struct RPCRequest: Sendable, Hashable {
    /// The request id; nil for a notification (executed, never answered).
    public var id: RPCID?
    public var method: String
    /// The `params` object (an empty one when absent).
    public var params: JSONObject

    public init(id: RPCID?, method: String, params: JSONObject = [:]) {
        self.id = id
        self.method = method
        self.params = params
    }

    public var isNotification: Bool { id == nil }
}

/// A line read off the wire: one request, a batch, or something that is not a request.
public enum RPCIncoming: Sendable {
    case single(Result<RPCRequest, RPCFailure>)
    case batch([Result<RPCRequest, RPCFailure>])
    /// Not even a request shape: answered with one error, id null.
    case invalid(RPCFailure)
}

/// An error to answer with, and the id to answer it under.
public struct RPCFailure: Error, Sendable {
    public var id: RPCID
    public var error: CairnError

    public init(id: RPCID, error: CairnError) {
        self.id = id
        self.error = error
    }
}

public enum RPCCoding {
    /// Decodes one line (without its `\n`).
    public static func decode(line: some Collection<UInt8>) -> RPCIncoming {
        if let decoded = line.withContiguousStorageIfAvailable(decode(contiguous:)) { return decoded }
        return Array(line).withUnsafeBufferPointer(decode(contiguous:))
    }

    private static func decode(contiguous line: UnsafeBufferPointer<UInt8>) -> RPCIncoming {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: line)
        } catch {
            return .invalid(RPCFailure(id: .null, error: CairnError(.parseError, "the line is not JSON: \(error)")))
        }
        switch json {
        case .array(let entries):
            if entries.isEmpty {
                return .invalid(RPCFailure(id: .null, error: CairnError(.invalidRequest, "an empty batch is not a request")))
            }
            // Scanned once, and only when some entry's id needs its text.
            var texts: [[UInt8]?]?
            return .batch(
                entries.enumerated().map { position, entry in
                    request(from: entry) {
                        if texts == nil { texts = IDTokenScanner.idTexts(inBatch: line) }
                        return position < texts!.count ? texts![position] : nil
                    }
                })
        default:
            return .single(request(from: json) { IDTokenScanner.idText(inRequest: line) })
        }
    }

    /// Reads one request object; `sentIDText` gives the id's text as written, when asked.
    static func request(from json: JSONValue, sentIDText: () -> [UInt8]?) -> Result<RPCRequest, RPCFailure> {
        guard case .object(let o) = json else {
            return .failure(RPCFailure(id: .null, error: CairnError(.invalidRequest, "a request must be a JSON object")))
        }
        var id: RPCID?
        if let value = o["id"] {
            switch value {
            case .int, .double, .string, .null:
                id = RPCID(value: value, sentText: RPCID.needsSentText(value) ? sentIDText() : nil)
            default:
                return .failure(RPCFailure(id: .null, error: CairnError(.invalidRequest, "id must be a number, a string or null")))
            }
        }
        if let version = o["jsonrpc"], version != .string("2.0") {
            return .failure(RPCFailure(id: id ?? .null, error: CairnError(.invalidRequest, "jsonrpc must be \"2.0\" (or left out)")))
        }
        guard case .string(let method)? = o["method"] else {
            return .failure(RPCFailure(id: id ?? .null, error: CairnError(.invalidRequest, "method must be a string")))
        }
        var params: JSONObject = [:]
        switch o["params"] {
        case nil, .null?: break
        case .object(let p)?: params = p
        default:
            return .failure(
                RPCFailure(id: id ?? .null, error: CairnError(.invalidParams, "params must be an object", data: ["field": "params"])))
        }
        return .success(RPCRequest(id: id, method: method, params: params))
    }

    /// `{"jsonrpc":"2.0","id":…,"result":…}`
    public static func result(id: RPCID, _ result: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        id.write(to: &out)
        out.append(contentsOf: #","result":"#.utf8)
        result.write(to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `{"jsonrpc":"2.0","id":…,"error":{"code":…,"message":…,"data":{"reason":…,…}}}`
    public static func error(id: RPCID, _ error: CairnError, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        id.write(to: &out)
        out.append(contentsOf: #","error":"#.utf8)
        errorObject(error).write(to: &out)
        out.append(UInt8(ascii: "}"))
    }

    public static func errorObject(_ error: CairnError) -> JSONValue {
        var data: JSONObject = ["reason": .string(error.reason.rawValue)]
        for (k, v) in error.data where k != "reason" { data[k] = v }
        return ["code": .int(error.code), "message": .string(error.message), "data": .object(data)]
    }

    /// `{"jsonrpc":"2.0","method":…,"params":…}`: a server notification.
    public static func notification(method: String, _ params: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","method":"#.utf8)
        JSONValue.writeString(method, to: &out)
        out.append(contentsOf: #","params":"#.utf8)
        params.write(to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// A request, as a client sends it.
    public static func request(id: Int, method: String, params: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        out.append(contentsOf: String(id).utf8)
        out.append(contentsOf: #","method":"#.utf8)
        JSONValue.writeString(method, to: &out)
        out.append(contentsOf: #","params":"#.utf8)
        params.write(to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Reads an error object back into a `CairnError` (client side).
    public static func decodeError(_ json: JSONValue) -> CairnError {
        let message = json["message"]?.stringValue ?? "error"
        var data = json["data"]?.objectValue ?? [:]
        let reasonText = data.removeValue(forKey: "reason")?.stringValue
        let code = json["code"]?.intValue
        let reason =
            reasonText.flatMap(CairnError.Reason.init(rawValue:))
            ?? CairnError.Reason.allCases.first { $0.code == code } ?? .internalError
        return CairnError(reason, message, data: data)
    }
}
