/// How secrets are shown where settings are printed (cairnd's start-up line, a benchmark's record
/// of its arguments): the shape stays visible, the secret never does.
public enum Redaction {
    /// What stands where a secret was.
    public static let mask = "***"

    /// A URL with the password of its user info masked, the user name kept:
    /// `redis://app:s3cret@db:6379/0` → `redis://app:***@db:6379/0`, and a password given alone
    /// (`redis://s3cret@db`, which Redis URLs allow) → `redis://:***@db`. The user info ends at
    /// the last `@`, as the Redis URL parser reads it, so a password holding `@` is masked whole.
    /// Text without `@` is returned as it is; text with `@` but no `://` loses everything before
    /// its last `@`.
    public static func url(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        guard let authority = authorityStart(text), authority <= at else { return mask + text[at...] }
        let userInfo = text[authority..<at]
        let user = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? ""
        return text[..<authority] + user + ":" + mask + text[at...]
    }

    /// Where the text after the first `://` begins.
    private static func authorityStart(_ text: String) -> String.Index? {
        var index = text.startIndex
        while let colon = text[index...].firstIndex(of: ":") {
            let rest = text[colon...]
            if rest.hasPrefix("://") { return text.index(colon, offsetBy: 3) }
            index = text.index(after: colon)
        }
        return nil
    }
}
