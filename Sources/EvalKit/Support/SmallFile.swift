import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole small files (cache entries) read and written with a handful of system calls: Foundation's
/// `contents(atPath:)` and atomic `Data.write` took most of a cached re-run's time in file handling.
enum SmallFile {
    /// The file's bytes, or nil when it cannot be read.
    static func bytes(at path: String) -> [UInt8]? {
        if case .success(let bytes) = contents(of: path) { return bytes }
        return nil
    }

    /// The file's bytes, or why not, in words for the user. Only a regular file is read: a FIFO would wait
    /// for a writer and a device such as /dev/zero never ends (a path in a config or run folder may name either).
    static func contents(of path: String) -> Result<[UInt8], UnreadableFile> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(UnreadableFile(reason: errno == ENOENT ? "no such file" : "not readable (\(String(cString: strerror(errno))))")) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return .failure(UnreadableFile(reason: "not readable")) }
        if let problem = notAFile(mode: status.st_mode) { return .failure(problem) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            let count = bytes.withUnsafeMutableBytes { all in
                let free = UnsafeMutableRawBufferPointer(rebasing: all[filled...])
                return read(fd, free.baseAddress, free.count)
            }
            if count > 0 { filled += count; continue }
            if count == 0 { break }
            if errno != EINTR { return .failure(UnreadableFile(reason: "not readable (\(String(cString: strerror(errno))))")) }
        }
        bytes.removeSubrange(filled...)
        return .success(bytes)
    }

    /// Why `path` is not a file to read (a FIFO, device or folder), or nil when it is one or is missing.
    static func notARegularFile(_ path: String) -> UnreadableFile? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return notAFile(mode: status.st_mode)
    }

    private static func notAFile(mode: mode_t) -> UnreadableFile? {
        guard mode & S_IFMT != S_IFREG else { return nil }
        return UnreadableFile(reason: mode & S_IFMT == S_IFDIR ? "a folder, where a file was expected"
                                                               : "not a regular file (a FIFO, socket or device), where a file was expected")
    }

    /// Why a file named by the user could not be read.
    /// `LocalizedError` too: callers that read a file through Foundation show errors by their localized description.
    struct UnreadableFile: LocalizedError, CustomStringConvertible {
        var reason: String
        var description: String { reason }
        var errorDescription: String? { reason }
    }

    /// Writes the file whole or not at all: into a temporary file beside it, then renamed over it. A
    /// reader in another process (shards sharing a cache folder) finds the old file, the new one or
    /// none, never a mixture of two writers' bytes. False when it could not.
    @discardableResult
    static func replace(_ bytes: [UInt8], at path: String) -> Bool {
        let temporary = path + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        guard store(bytes, at: temporary) else {
            unlink(temporary)
            return false
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// Writes the file (truncating an old one), creating missing folders; false when it could not.
    /// Not atomic: a reader can find a partial file, and two writers can mix their bytes, so use it
    /// only where the file has one writer and a partial file is harmless; `replace` otherwise.
    @discardableResult
    static func store(_ bytes: [UInt8], at path: String) -> Bool {
        var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            let folder = FilePath.folder(of: path)
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { return false }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { all in
                let rest = UnsafeRawBufferPointer(rebasing: all[written...])
                return write(fd, rest.baseAddress, rest.count)
            }
            if count > 0 { written += count } else if count < 0 && errno == EINTR { continue } else { break }
        }
        return close(fd) == 0 && written == bytes.count
    }
}
