import CairnCore

/// What a filtered or text search needs of an item, kept in the tenant's documents hash beside
/// the item itself (written in the same transaction): `[updated_ms,"kind",description|null,value]`.
enum SearchDocument {
    static func encode(updatedMs: Int64, kind: ItemKind, description: String?, valueText: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(valueText.utf8.count + 48)
        out.append(UInt8(ascii: "["))
        out.append(contentsOf: String(updatedMs).utf8)
        out.append(contentsOf: ",\"\(kind.rawValue)\",".utf8)
        if let description { JSONValue.writeString(description, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: valueText.utf8)
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    struct Decoded {
        var updatedMs: Int64
        var kind: ItemKind
        var description: String?
        var value: JSONValue
    }

    static func decode(_ text: String) -> Decoded? {
        guard case .array(let parts)? = try? JSONValue(parsing: text), parts.count == 4, let updated = parts[0].intValue,
            let kind = parts[1].stringValue.flatMap(ItemKind.init(rawValue:))
        else { return nil }
        return Decoded(updatedMs: Int64(updated), kind: kind, description: parts[2].stringValue, value: parts[3])
    }
}
