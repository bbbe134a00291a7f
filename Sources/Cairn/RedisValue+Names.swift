import CairnCore
import CairnRedis

extension RedisValue {
    /// A flat `[field, value, …]` reply whose fields are names (an agent's hash of labels) as a
    /// dictionary keyed by `Name`. `fieldMap` keys by `String`, which would merge look-alike
    /// labels (`"\u{E9}"`, `"e\u{301}"`) that Redis keeps apart; use it only for fixed ASCII fields.
    var nameMap: [Name: String]? {
        guard case .array(let a) = self else { return nil }
        var map: [Name: String] = [:]
        map.reserveCapacity(a.count / 2)
        var i = 0
        while i + 1 < a.count {
            if let k = a[i].string, let v = a[i + 1].string { map[Name(k)] = v }
            i += 2
        }
        return map
    }
}
