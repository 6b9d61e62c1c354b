/// Path arithmetic on strings, written here because Foundation's NSString.deletingLastPathComponent traps on
/// Linux for a one-character relative path ("x", "x/"): `evalkit validate x` ended with SIGILL.
public enum FilePath {
    /// The folder part of `path`: "a/b" → "a", "/a" → "/", "a" → "" (the working folder), trailing and
    /// repeated slashes ignored ("a//b/" → "a").
    public static func folder(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var folder = trimmed[..<slash]
        while folder.hasSuffix("/") { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }
}
