import Foundation

/// HTTP/1.1 as bytes on a connection (RFC 9112): the request evalkit writes and the response it reads.
/// Plain `http://` servers (local models, OpenAI-compatible servers on a LAN) are reached through
/// this and `SocketHTTPTransport`; `https://` goes through URLSession.

/// Where an `http://` URL points: host, port and the request target (path and query).
struct PlainHTTPTarget: Equatable, Sendable {
    var host: String
    var port: UInt16
    var pathAndQuery: String

    /// Parses `http://host[:port][/path][?query]`; nil for anything else (https, user info, a bad port).
    init?(_ url: String) {
        guard url.utf8.count > 7, url.prefix(7).lowercased() == "http://" else { return nil }
        let rest = url.dropFirst(7)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...].prefix(while: { $0 != "#" }))
        if target.isEmpty { target = "/" } else if target.first == "?" { target = "/" + target }
        guard !authority.isEmpty, !authority.contains("@"), !target.contains(where: { $0 == " " || $0.isNewline }) else { return nil }
        var hostPart = Substring(authority)
        var portPart: Substring? = nil
        if authority.first == "[" {
            // An IPv6 literal: [::1]:8080
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { return nil }
        if let portPart {
            guard let number = UInt16(portPart), number > 0 else { return nil }
            port = number
        } else {
            port = 80
        }
        host = String(hostPart)
        pathAndQuery = target
    }

    /// The Host header's value.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }
}

/// One HTTP/1.1 request, serialised.
enum HTTPRequestBytes {
    /// The request line, headers and body. Header names and values must not contain CR or LF
    /// (checked by the caller: an API key with a line break would otherwise inject headers).
    static func make(method: String, target: PlainHTTPTarget, headers: [(String, String)], body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes.append(contentsOf: body) }
        return bytes
    }

    /// True when a header name or value could break out of its line.
    static func isUnsafe(_ text: String) -> Bool { text.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 } }
}

/// A complete HTTP response.
public struct HTTPResponseMessage: Sendable {
    /// The status code, 100–999.
    public var status: Int
    /// Header names in lower case, in the order received.
    public var headers: [(name: String, value: String)]
    /// The body, with any chunked transfer coding removed.
    public var body: [UInt8]
    /// False when the server asked to close the connection (or framed the body by closing it).
    public var keepAlive: Bool
    /// When the body arrived, read by read (only when asked for: a streamed answer's timing).
    public var arrivals: [BodyArrival] = []

    /// The first value of a header, by its lower-case name.
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

/// How much of a body had arrived, and when.
public struct BodyArrival: Sendable {
    /// Body bytes received so far (after removing chunked coding).
    public var bodyBytes: Int
    public var at: ContinuousClock.Instant
}

/// Why a response could not be read as HTTP/1.1.
public enum HTTPWireError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case tooLarge(String)

    public var description: String {
        switch self {
        case let .malformed(what): return "malformed HTTP response: \(what)"
        case let .tooLarge(what): return "HTTP response too large: \(what)"
        }
    }
}

/// Reads one response from bytes as they arrive. Feed it what the socket gave; it says when the
/// response is complete. Bodies are framed by Content-Length, chunked transfer coding, or the end
/// of the connection (`finish()`).
public struct HTTPResponseParser: Sendable {
    /// The most a status line and headers may take, and the most a body may take.
    static let maxHeadBytes = 64 * 1024
    static let maxBodyBytes = 256 * 1024 * 1024

    private enum Framing { case length(Int), chunked, untilClose }
    private var buffer: [UInt8] = []
    private var head: (status: Int, headers: [(name: String, value: String)], keepAlive: Bool, framing: Framing, bodyStart: Int)?
    /// Where the chunked decoder has got to in `buffer`, and the body decoded so far.
    private var chunkCursor = 0
    private var chunkedBody: [UInt8] = []
    /// Set when a HEAD request or a status without a body (1xx, 204, 304) ends the message at its head.
    let bodyless: Bool

    /// A parser for the response to a request made with `requestMethod` (HEAD responses have no body).
    public init(requestMethod: String = "POST") { bodyless = requestMethod == "HEAD" }

    /// True once any byte of a response has arrived.
    public var hasStarted: Bool { !buffer.isEmpty || head != nil }

    /// Body bytes decoded so far (0 before the head is complete).
    public var bodyBytesSoFar: Int {
        guard let head else { return 0 }
        if case .chunked = head.framing { return chunkedBody.count }
        return max(0, buffer.count - head.bodyStart)
    }

    /// Adds bytes; returns the response once it is complete.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPWireError) -> HTTPResponseMessage? {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    /// Adds bytes; returns the response once it is complete.
    public mutating func feed(_ bytes: [UInt8]) throws(HTTPWireError) -> HTTPResponseMessage? {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    /// The connection ended: completes a body framed by the close, or fails an unfinished response.
    public mutating func finish() throws(HTTPWireError) -> HTTPResponseMessage {
        guard let head else {
            throw .malformed(buffer.isEmpty ? "the server closed the connection without answering" : "the connection ended inside the headers")
        }
        guard case .untilClose = head.framing else { throw .malformed("the connection ended inside the body") }
        return HTTPResponseMessage(status: head.status, headers: head.headers, body: Array(buffer[head.bodyStart...]), keepAlive: false)
    }

    private mutating func advance() throws(HTTPWireError) -> HTTPResponseMessage? {
        while head == nil {
            guard let end = Self.headEnd(buffer) else {
                if buffer.count > Self.maxHeadBytes { throw .tooLarge("headers over \(Self.maxHeadBytes) bytes") }
                return nil
            }
            let parsed = try Self.parseHead(buffer[..<end])
            if (100..<200).contains(parsed.status) && parsed.status != 101 {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                buffer.removeFirst(end + 4)
                continue
            }
            let framing: Framing
            if bodyless || parsed.status == 204 || parsed.status == 304 {
                framing = .length(0)
            } else if let coding = parsed.headers.first(where: { $0.name == "transfer-encoding" })?.value.lowercased() {
                // RFC 9112 §6.3: chunked last means chunked; any other coding means the body runs to the
                // close, whatever Content-Length says.
                framing = coding.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) == "chunked" ? .chunked : .untilClose
            } else if let lengthText = parsed.headers.first(where: { $0.name == "content-length" })?.value {
                guard let length = Int(lengthText.trimmingCharacters(in: .whitespaces)), length >= 0 else {
                    throw .malformed("Content-Length \"\(lengthText)\" is not a number")
                }
                guard length <= Self.maxBodyBytes else { throw .tooLarge("Content-Length \(length)") }
                framing = .length(length)
            } else {
                framing = .untilClose
            }
            var keepAlive = parsed.keepAlive
            if case .untilClose = framing { keepAlive = false }
            head = (parsed.status, parsed.headers, keepAlive, framing, end + 4)
            chunkCursor = end + 4
        }
        guard let head else { return nil }
        switch head.framing {
        case .length(let length):
            let available = buffer.count - head.bodyStart
            guard available >= length else { return nil }
            // Bytes beyond the body would be a pipelined answer we never asked for: do not reuse the connection.
            return HTTPResponseMessage(status: head.status, headers: head.headers, body: Array(buffer[head.bodyStart..<(head.bodyStart + length)]),
                                       keepAlive: head.keepAlive && available == length)
        case .untilClose:
            if buffer.count - head.bodyStart > Self.maxBodyBytes { throw .tooLarge("body over \(Self.maxBodyBytes) bytes") }
            return nil
        case .chunked:
            return try advanceChunks(head)
        }
    }

    /// Decodes complete chunks from `chunkCursor`; the message ends at the zero-size chunk and its trailers.
    private mutating func advanceChunks(_ head: (status: Int, headers: [(name: String, value: String)], keepAlive: Bool, framing: Framing, bodyStart: Int))
        throws(HTTPWireError) -> HTTPResponseMessage? {
        while true {
            guard let lineEnd = Self.lineEnd(buffer, from: chunkCursor) else {
                if buffer.count - chunkCursor > 4096 { throw .malformed("a chunk size line over 4096 bytes") }
                return nil
            }
            let sizeField = buffer[chunkCursor..<lineEnd].prefix { $0 != UInt8(ascii: ";") }
            let sizeText = String(decoding: sizeField, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformed("chunk size \"\(sizeText)\" is not hexadecimal") }
            if size == 0 {
                // Trailers, if any, end with an empty line; they may take no more than the headers may.
                var cursor = lineEnd + 2
                while true {
                    guard let end = Self.lineEnd(buffer, from: cursor) else {
                        if buffer.count - (lineEnd + 2) > Self.maxHeadBytes { throw .tooLarge("trailers over \(Self.maxHeadBytes) bytes") }
                        return nil
                    }
                    if end - (lineEnd + 2) > Self.maxHeadBytes { throw .tooLarge("trailers over \(Self.maxHeadBytes) bytes") }
                    if end == cursor {
                        return HTTPResponseMessage(status: head.status, headers: head.headers, body: chunkedBody,
                                                   keepAlive: head.keepAlive && end + 2 == buffer.count)
                    }
                    cursor = end + 2
                }
            }
            // Compared as a difference: a size near Int.max would overflow a sum.
            guard size <= Self.maxBodyBytes - chunkedBody.count else { throw .tooLarge("chunked body over \(Self.maxBodyBytes) bytes") }
            let dataStart = lineEnd + 2
            guard buffer.count >= dataStart + size + 2 else { return nil }
            guard buffer[dataStart + size] == 13, buffer[dataStart + size + 1] == 10 else { throw .malformed("a chunk not followed by CRLF") }
            chunkedBody.append(contentsOf: buffer[dataStart..<(dataStart + size)])
            chunkCursor = dataStart + size + 2
            // Decoded bytes are not kept twice: the raw chunks already read are dropped now and then.
            if chunkCursor >= 1 << 16 {
                buffer.removeFirst(chunkCursor)
                chunkCursor = 0
            }
        }
    }

    /// The index of the CRLF CRLF that ends the head.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10, bytes[i + 2] == 13, bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    private static func lineEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == 13, bytes[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPWireError) -> (status: Int, headers: [(name: String, value: String)], keepAlive: Bool) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        guard let statusLine = lines.popFirst() else { throw .malformed("no status line") }
        // HTTP/1.1 200 OK
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        // status-code = 3DIGIT (RFC 9112 §4); Int() alone would take "-12", "+20" and "000".
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].utf8.count == 3, parts[1].utf8.allSatisfy({ (48...57).contains($0) }),
              let status = Int(parts[1]), status >= 100 else {
            throw .malformed("status line \"\(Text.preview(String(statusLine), limit: 80))\"")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw .malformed("header line \"\(Text.preview(String(line), limit: 80))\"")
            }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let connection = headers.first { $0.name == "connection" }?.value.lowercased() ?? ""
        let keepAlive = parts[0] == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        return (status, headers, keepAlive)
    }
}
