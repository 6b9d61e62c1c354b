import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's size and SHA-256, for fingerprints and cache keys.
public struct FileDigest: Sendable, Equatable {
    /// The path as the config names it (not resolved), so two machines record the same text.
    public var path: String
    public var bytes: Int
    public var sha256: String

    public init(path: String, bytes: Int, sha256: String) { self.path = path; self.bytes = bytes; self.sha256 = sha256 }

    /// The digest of the file at `resolvedPath` (recorded under `path`); nil when it is not a readable
    /// regular file. Model files run to gigabytes, so digests are remembered in `memoDirectory` by the
    /// file's real path, size, inode and modification time: a changed file is hashed again.
    public static func of(_ resolvedPath: String, recordedAs path: String, memoDirectory: String?) -> FileDigest? {
        guard let real = realPath(resolvedPath) else { return nil }
        var status = stat()
        guard stat(real, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(status.st_size)
        let stamp = "\(real)|\(size)|\(status.st_ino)|\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
        let memo = memoDirectory.map { $0 + "/" + SHA256.hex(stamp) + ".sha256" }
        if let memo, let bytes = SmallFile.bytes(at: memo) {
            let text = String(decoding: bytes, as: UTF8.self)
            if text.utf8.count == 64, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                return FileDigest(path: path, bytes: size, sha256: text)
            }
        }
        guard let hex = hashFile(real) else { return nil }
        if let memo { SmallFile.replace(Array(hex.utf8), at: memo) }
        return FileDigest(path: path, bytes: size, sha256: hex)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// SHA-256 of a file read in 1 MiB blocks (memory stays flat for any size).
    static func hashFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hasher = SHA256()
        var block = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { hasher.update(block[0..<count]); continue }
            if count == 0 { break }
            if errno != EINTR { return nil }
        }
        return hasher.finalizeHex()
    }

    /// As run.json records it.
    public var json: JSON {
        .object([("path", .string(path)), ("bytes", .number(Double(bytes))), ("sha256", .string(sha256))])
    }

    /// Reads run.json's form back; nil when a field is missing or out of range.
    public init?(json: JSON) {
        guard let path = json["path"]?.stringValue, let sha = json["sha256"]?.stringValue,
              let bytes = json["bytes"]?.numberValue.flatMap({ Int(exactly: $0) }) else { return nil }
        self.init(path: path, bytes: bytes, sha256: sha)
    }
}
