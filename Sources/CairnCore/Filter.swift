/// A `search` filter: dotted paths into object values, each with one or more conditions, all
/// ANDed. `{"status":"open","score":{"$gte":3},"meta.owner":{"$ne":"bob"}}`.
///
/// Rules (the protocol's): a plain value means `$eq`; numbers compare numerically, strings by
/// code point, booleans only with `$eq`/`$ne`. `$ne` is exactly the negation of `$eq`: it
/// matches values of another type and missing paths. The ordering operators never match a
/// value of another type or a missing path.
public struct Filter: Sendable, Hashable {
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case eq = "$eq", ne = "$ne", gt = "$gt", gte = "$gte", lt = "$lt", lte = "$lte"
    }

    public struct Condition: Sendable, Hashable {
        public var path: [String]
        public var op: Operator
        public var operand: JSONValue
    }

    public var conditions: [Condition]

    /// Parses a filter object; errors are `invalid_filter` naming `field`.
    public init(_ json: JSONValue, field: String = "filter") throws(CairnError) {
        guard case .object(let members) = json else {
            throw CairnError(.invalidFilter, "\(field) must be an object of dotted paths", data: ["field": .string(field)])
        }
        var conditions: [Condition] = []
        for (member, spec) in members {
            let path = member.string
            // Split on the byte `.`, not on the Character: ".\u{301}" is one Character but two names' worth of bytes.
            let segments = path.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            guard !path.isEmpty, !segments.contains(where: \.isEmpty) else {
                throw CairnError(.invalidFilter, "\(field) path \(path.debugDescription) is not a dotted path", data: ["field": .string(field)])
            }
            if case .object(let ops) = spec, let first = ops.keys.first, first.string.hasPrefix("$") {
                for (member, operand) in ops {
                    let name = member.string
                    guard let op = Operator(rawValue: name) else {
                        throw CairnError(
                            .invalidFilter,
                            "unknown filter operator \(name.debugDescription) at \(path.debugDescription); use one of \(Operator.allCases.map(\.rawValue).joined(separator: " "))",
                            data: ["field": .string(field)])
                    }
                    try Filter.checkOperand(op, operand, path: path, field: field)
                    conditions.append(Condition(path: segments, op: op, operand: operand))
                }
            } else {
                try Filter.checkOperand(.eq, spec, path: path, field: field)
                conditions.append(Condition(path: segments, op: .eq, operand: spec))
            }
        }
        self.conditions = conditions
    }

    static func checkOperand(_ op: Operator, _ operand: JSONValue, path: String, field: String) throws(CairnError) {
        switch (op, operand) {
        case (_, .null):
            throw CairnError(.invalidFilter, "\(op.rawValue) at \(path.debugDescription) compares with null; values are never null", data: ["field": .string(field)])
        case (.gt, _), (.gte, _), (.lt, _), (.lte, _):
            switch operand {
            case .int, .double, .string: return
            default:
                throw CairnError(.invalidFilter, "\(op.rawValue) at \(path.debugDescription) needs a number or a string", data: ["field": .string(field)])
            }
        default: return
        }
    }

    /// Whether `value` passes every condition.
    public func matches(_ value: JSONValue) -> Bool {
        conditions.allSatisfy { condition in
            // A missing path matches nothing but `$ne` (`$eq` negated).
            guard let found = Filter.resolve(condition.path, in: value) else { return condition.op == .ne }
            return Filter.evaluate(condition.op, found, condition.operand)
        }
    }

    static func resolve(_ path: [String], in value: JSONValue) -> JSONValue? {
        var current = value
        for segment in path {
            switch current {
            case .object(let o):
                guard let next = o[segment] else { return nil }
                current = next
            case .array(let a):
                guard let i = Int(segment), a.indices.contains(i) else { return nil }
                current = a[i]
            default:
                return nil
            }
        }
        return current
    }

    /// `order(a, b)`: -1, 0, 1, or nil when the two are of different types or not ordered.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        switch (a, b) {
        case let (.int(x), .int(y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.int, .double), (.double, .int), (.double, .double):
            let x = a.numberValue!, y = b.numberValue!
            return x < y ? -1 : (x == y ? 0 : 1)
        case let (.string(x), .string(y)):
            if x.utf8.elementsEqual(y.utf8) { return 0 }
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        default: return nil
        }
    }

    /// JSON equality: numbers by value (`1` equals `1.0`), objects regardless of member order,
    /// arrays element by element.
    static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double): return compare(a, b) == 0
        case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { equivalent(value, $0) } ?? false }
        default: return false
        }
    }

    static func sameType(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double), (.string, .string), (.bool, .bool),
            (.array, .array), (.object, .object), (.null, .null):
            true
        default: false
        }
    }

    static func evaluate(_ op: Operator, _ value: JSONValue, _ operand: JSONValue) -> Bool {
        if op == .ne { return !evaluate(.eq, value, operand) }  // so another type matches too
        guard sameType(value, operand) else { return false }
        switch op {
        case .eq, .ne:
            return equivalent(value, operand)
        case .gt: return compare(value, operand).map { $0 > 0 } ?? false
        case .gte: return compare(value, operand).map { $0 >= 0 } ?? false
        case .lt: return compare(value, operand).map { $0 < 0 } ?? false
        case .lte: return compare(value, operand).map { $0 <= 0 } ?? false
        }
    }
}
