import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why `evalkit view` could not serve a folder.
public enum RunFolderServerError: Error, CustomStringConvertible {
    case notAFolder(String)
    case cannotListen(String)

    public var description: String {
        switch self {
        case .notAFolder(let path): return "\(path) is not a run folder (expected a folder holding report.html; `evalkit report \(path)` writes one)"
        case .cannotListen(let reason): return "cannot listen on 127.0.0.1: \(reason)"
        }
    }
}

/// Serves one run folder's files, read-only, on 127.0.0.1 for `evalkit view`: GET and HEAD of files inside
/// the folder (never outside it, never a listing), each connection closed after its answer.
public final class RunFolderServer: Sendable {
    public let port: Int
    public let root: String
    private let listener: Int32

    /// Listens on `port` (0: a free one) for `directory`, which must hold report.html.
    public init(directory: String, port: Int = 0) throws(RunFolderServerError) {
        let resolved = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        guard FileManager.default.fileExists(atPath: resolved + "/" + HTMLReport.fileName) else { throw .notAFolder(directory) }
        root = resolved
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .cannotListen(String(cString: strerror(errno))) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .cannotListen("port \(port): \(reason)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
    }

    /// Accepts connections on a thread of its own until `stop`.
    public func start() {
        let thread = Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                DispatchQueue.global().async { [self] in serve(client) }
            }
        }
        thread.start()
    }

    /// Stops accepting connections.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // The request head only (no body is read); at most 16 KiB of it.
        while !head.containsHeadEnd, head.count < 16_384 {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return }
            head.append(contentsOf: buffer[0..<n])
        }
        let requestLine = String(decoding: head.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self).split(separator: " ")
        guard requestLine.count == 3 else { return reply(client, 400, "bad request") }
        let method = String(requestLine[0])
        guard method == "GET" || method == "HEAD" else { return reply(client, 405, "only GET and HEAD", extra: "Allow: GET, HEAD\r\n") }
        guard let file = file(for: String(requestLine[1])), let data = FileManager.default.contents(atPath: file) else {
            return reply(client, 404, "not found")
        }
        let type = Self.contentType((file as NSString).pathExtension.lowercased())
        let header = "HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Length: \(data.count)\r\nCache-Control: no-store\r\n"
            + "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
        send(client, Array(header.utf8))
        if method == "GET" { send(client, [UInt8](data)) }
    }

    /// The file a request path names inside the folder: "/" is report.html; a path that leaves the folder
    /// (.., a link pointing out) or names a folder is nil.
    func file(for target: String) -> String? {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path.hasPrefix("/"), let decoded = path.removingPercentEncoding, !decoded.contains("\0") else { return nil }
        let parts = decoded.split(separator: "/")
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        let relative = parts.isEmpty ? HTMLReport.fileName : parts.joined(separator: "/")
        let resolved = URL(fileURLWithPath: root + "/" + relative).resolvingSymlinksInPath().path
        var isFolder: ObjCBool = false
        guard resolved.hasPrefix(root + "/"), FileManager.default.fileExists(atPath: resolved, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
        return resolved
    }

    static func contentType(_ pathExtension: String) -> String {
        switch pathExtension {
        case "html": return "text/html; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "csv": return "text/csv; charset=utf-8"
        case "json": return "application/json"
        case "png": return "image/png"
        default: return "text/plain; charset=utf-8"
        }
    }

    private func reply(_ client: Int32, _ status: Int, _ text: String, extra: String = "") {
        let reason = [400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"][status] ?? "Error"
        send(client, Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(text.utf8.count + 1)\r\n\(extra)Connection: close\r\n\r\n\(text)\n".utf8))
    }

    private func send(_ client: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }
}

private extension [UInt8] {
    var containsHeadEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 0x0D && self[i + 1] == 0x0A && self[i + 2] == 0x0D && self[i + 3] == 0x0A { return true }
        return false
    }
}
