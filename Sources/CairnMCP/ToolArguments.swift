import CairnCore
import MCP
import OrderedCollections

/// A tool call's arguments, checked before anything is sent: an argument the tool does not
/// define, or one of the wrong type, is `invalid_params` naming it, so a typo (`ifversion`)
/// never turns a guarded write into a blind one.
struct ToolArguments {
    private let values: [String: JSONValue]

    init(_ arguments: [String: Value]?, allowed: [String]) throws(CairnError) {
        var values: [String: JSONValue] = [:]
        for (name, value) in arguments ?? [:] {
            guard allowed.contains(where: { Array($0.utf8) == Array(name.utf8) }) else {
                let known = allowed.isEmpty ? "it takes no arguments" : "it takes \(allowed.joined(separator: ", "))"
                throw CairnError.invalidParams(name, "unknown argument `\(name)`: \(known)")
            }
            values[name] = JSONBridge.json(value)
        }
        self.values = values
    }

    init(json values: [String: JSONValue]) { self.values = values }

    /// Present and not null.
    func has(_ name: String) -> Bool { values[name].map { !$0.isNull } ?? false }

    func string(_ name: String) throws(CairnError) -> String? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let s = value.stringValue else { throw CairnError.invalidParams(name, "`\(name)` must be a string") }
        return s
    }

    func requiredString(_ name: String) throws(CairnError) -> String {
        guard let s = try string(name) else { throw CairnError.invalidParams(name, "`\(name)` is required") }
        return s
    }

    func int(_ name: String, minimum: Int? = nil) throws(CairnError) -> Int? {
        guard let value = values[name], !value.isNull else { return nil }
        var number: Int? = value.intValue
        // Models sometimes send 3.0 for 3; a whole double is that integer.
        if number == nil, case .double(let d) = value, d.rounded() == d, abs(d) < 9.0e15 { number = Int(d) }
        guard let number else { throw CairnError.invalidParams(name, "`\(name)` must be an integer") }
        if let minimum, number < minimum { throw CairnError.invalidParams(name, "`\(name)` must be \(minimum) or more") }
        return number
    }

    func bool(_ name: String) throws(CairnError) -> Bool? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let b = value.boolValue else { throw CairnError.invalidParams(name, "`\(name)` must be true or false") }
        return b
    }

    func json(_ name: String) -> JSONValue? {
        guard let value = values[name], !value.isNull else { return nil }
        return value
    }

    func object(_ name: String) throws(CairnError) -> JSONValue? {
        guard let value = json(name) else { return nil }
        guard value.objectValue != nil else { throw CairnError.invalidParams(name, "`\(name)` must be a JSON object") }
        return value
    }
}

/// Builds a params object, leaving out the members that are nil.
func params(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
    var o = JSONObject()
    for (key, value) in pairs { if let value { o[key] = value } }
    return .object(o)
}

/// Two names are the same name when their UTF-8 bytes are.
func sameName(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
