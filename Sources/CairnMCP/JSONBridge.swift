import CairnCore
import Foundation
import MCP
import OrderedCollections

/// Conversions between Cairn's JSON values and the MCP SDK's `Value`, in one place.
///
/// The SDK decodes a JSON string that is a data URL (`data:…`) as `.data`; it is turned back
/// into a string the way the SDK writes it (`data:<type>;base64,…`), so a value that was text
/// stays text — but not always the same text (`data:,hi` comes back as `data:text/plain;base64,aGk=`). The SDK's objects are
/// Swift dictionaries, so member order is not kept on the way in; Cairn's results keep theirs in
/// the JSON text of a tool result.
enum JSONBridge {
    static func json(_ value: Value) -> JSONValue {
        switch value {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .data(let mimeType, let data): .string(data.dataURLEncoded(mimeType: mimeType))
        case .array(let a): .array(a.map(json))
        case .object(let o):
            .object(OrderedDictionary(uniqueKeysWithValues: o.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }.map { (JSONKey($0.key), json($0.value)) }))
        }
    }

    static func value(_ json: JSONValue) -> Value {
        switch json {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .array(let a): .array(a.map(value))
        case .object(let o):
            // The SDK's dictionary is keyed by String, whose == is canonical equivalence: of two
            // members whose keys differ in bytes but not canonically, the first is kept (the
            // JSON text of the result still has both).
            .object(o.reduce(into: [String: Value]()) { out, member in
                if out[member.key.string] == nil { out[member.key.string] = value(member.value) }
            })
        }
    }
}
