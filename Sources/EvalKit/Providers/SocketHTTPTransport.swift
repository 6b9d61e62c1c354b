#if os(Linux)
import Foundation
import CEpoll
import Glibc
import Synchronization

/// Waits for sockets to become readable or writable: one epoll instance and one thread for the whole
/// process. A request then costs a few system calls and one hop back to its task; URLSession on Linux
/// goes through libcurl and Dispatch with several thread switches per request, which made it the
/// bottleneck against fast local servers (bench/results.md).
final class SocketReactor: Sendable {
    enum Interest { case readable, writable }
    enum Wakeup { case ready, timedOut }

    /// The process's reactor; nil only if the kernel refused an epoll instance.
    static let shared: SocketReactor? = SocketReactor()

    private struct Waiter {
        let continuation: UnsafeContinuation<Wakeup, Never>
        let deadline: ContinuousClock.Instant
    }
    private let epoll: Int32
    /// One waiter per socket at most: a connection is used by one request at a time.
    private let waiters = Mutex<[Int32: Waiter]>([:])

    private init?() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { return nil }
        let thread = Thread { [self] in self.loop() }
        thread.name = "evalkit-sockets"
        thread.start()
    }

    /// Adds a new socket, disarmed until the first `wait`.
    func register(_ fd: Int32) -> Bool {
        var event = epoll_event()
        event.events = EPOLLONESHOT.rawValue
        event.data.fd = fd
        return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0
    }

    /// Suspends until `fd` is ready for `interest` (or has failed: the next system call tells), or the deadline passes.
    func wait(_ fd: Int32, for interest: Interest, until deadline: ContinuousClock.Instant) async -> Wakeup {
        await withUnsafeContinuation { continuation in
            waiters.withLock { $0[fd] = Waiter(continuation: continuation, deadline: deadline) }
            var event = epoll_event()
            event.events = (interest == .readable ? EPOLLIN.rawValue : EPOLLOUT.rawValue) | EPOLLONESHOT.rawValue
            event.data.fd = fd
            if epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) != 0 {
                // Not armed: let the caller's next system call report what is wrong with the socket.
                if let waiter = waiters.withLock({ $0.removeValue(forKey: fd) }) { waiter.continuation.resume(returning: .ready) }
            }
        }
    }

    private func loop() {
        let capacity: Int32 = 256
        var events = [epoll_event](repeating: epoll_event(), count: Int(capacity))
        var woken: [(UnsafeContinuation<Wakeup, Never>, Wakeup)] = []
        var nextSweep = ContinuousClock.now
        // Deadlines are checked at least every 50 ms, so a request times out within 50 ms of its limit.
        let sweepInterval = Duration.milliseconds(50)
        while true {
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, capacity, 50) }
            if count < 0 && errno != EINTR {
                // epoll itself failing is not expected; pace the loop rather than spin.
                usleep(10_000)
                continue
            }
            let now = ContinuousClock.now
            woken.removeAll(keepingCapacity: true)
            waiters.withLock { waiting in
                for index in 0..<max(0, Int(count)) {
                    if let waiter = waiting.removeValue(forKey: events[index].data.fd) { woken.append((waiter.continuation, .ready)) }
                }
                guard now >= nextSweep, !waiting.isEmpty else { return }
                nextSweep = now + sweepInterval
                for (fd, waiter) in waiting where waiter.deadline <= now {
                    waiting.removeValue(forKey: fd)
                    woken.append((waiter.continuation, .timedOut))
                }
            }
            for (continuation, wakeup) in woken { continuation.resume(returning: wakeup) }
        }
    }
}

/// HTTP/1.1 over plain TCP with keep-alive connections, for `http://` servers.
final class SocketHTTPTransport: Sendable {
    /// Why an exchange failed, before it is put in the provider's terms.
    enum Failure: Error {
        case timedOut
        case cannotConnect(String)
        /// The connection failed before any byte of the request was written: the server has not seen it.
        case notSent
        /// The connection broke; `answered` says whether any byte of a response had arrived.
        case lost(answered: Bool)
        case wire(HTTPWireError)
    }

    private struct Address: Sendable {
        let family: Int32
        let bytes: [UInt8]
    }

    private let reactor: SocketReactor
    private let maxIdle: Int
    /// Open connections not in use, by "host:port".
    private let idle = Mutex<[String: [Int32]]>([:])
    private let addresses = Mutex<[String: [Address]]>([:])

    init?(maxIdleConnections: Int) {
        guard let reactor = SocketReactor.shared else { return nil }
        self.reactor = reactor
        maxIdle = max(1, maxIdleConnections)
    }

    deinit { closeIdle() }

    /// Closes the connections kept for reuse.
    func closeIdle() {
        let sockets = idle.withLock { all in
            defer { all.removeAll() }
            return all.values.flatMap { $0 }
        }
        for fd in sockets { close(fd) }
    }

    /// Sends one request and reads its response. Kept connections that the server has closed are
    /// dropped before use; a request is sent again only when none of it was written (as Go's client
    /// does for POST): once written, the server may have acted on it, and the failure is the caller's.
    func exchange(_ request: [UInt8], method: String, to target: PlainHTTPTarget, deadline: ContinuousClock.Instant,
                  reuse: Bool = true) async throws(Failure) -> HTTPResponseMessage {
        let key = "\(target.host):\(target.port)"
        var fresh = false
        while true {
            let reused = fresh || !reuse ? nil : checkOut(key)
            let fd: Int32
            if let reused { fd = reused } else { fd = try await connect(target, key: key, deadline: deadline) }
            do throws(Failure) {
                let response = try await roundTrip(fd, request: request, method: method, deadline: deadline)
                if reuse && response.keepAlive { checkIn(fd, key: key) } else { close(fd) }
                return response
            } catch {
                close(fd)
                if reused != nil, case .notSent = error { fresh = true; continue }
                throw error
            }
        }
    }

    /// A kept connection the server has not closed (a peek finds neither an end nor stray bytes).
    private func checkOut(_ key: String) -> Int32? {
        while let fd = idle.withLock({ $0[key]?.popLast() }) {
            var byte: UInt8 = 0
            if recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return fd }
            close(fd)
        }
        return nil
    }

    private func checkIn(_ fd: Int32, key: String) {
        let kept = idle.withLock { all -> Bool in
            guard all[key, default: []].count < maxIdle else { return false }
            all[key, default: []].append(fd)
            return true
        }
        if !kept { close(fd) }
    }

    private func roundTrip(_ fd: Int32, request: [UInt8], method: String, deadline: ContinuousClock.Instant) async throws(Failure) -> HTTPResponseMessage {
        var offset = 0
        while offset < request.count {
            let sent = request.withUnsafeBytes { all in
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                return send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 { offset += sent; continue }
            let code = errno
            if sent < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                if await reactor.wait(fd, for: .writable, until: deadline) == .timedOut { throw .timedOut }
            } else if sent < 0 && code == EINTR {
                continue
            } else {
                throw offset == 0 ? .notSent : .lost(answered: false)
            }
        }
        var parser = HTTPResponseParser(requestMethod: method)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        // The answer cannot be there yet: wait before the first read instead of a read that finds nothing.
        if await reactor.wait(fd, for: .readable, until: deadline) == .timedOut { throw .timedOut }
        while true {
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                let fed = chunk.withUnsafeBytes { bytes in
                    Result { () throws(HTTPWireError) in try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<received])) }
                }
                switch fed {
                case .success(let response?): return response
                case .success(nil): continue
                case .failure(let problem): throw .wire(problem)
                }
            }
            if received == 0 {
                guard parser.hasStarted else { throw .lost(answered: false) }
                do throws(HTTPWireError) { return try parser.finish() } catch { throw .lost(answered: true) }
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK {
                if await reactor.wait(fd, for: .readable, until: deadline) == .timedOut { throw .timedOut }
            } else if code != EINTR {
                throw .lost(answered: parser.hasStarted)
            }
        }
    }

    private func connect(_ target: PlainHTTPTarget, key: String, deadline: ContinuousClock.Instant) async throws(Failure) -> Int32 {
        var lastReason = "no address"
        for address in try resolve(target, key: key) {
            let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastReason = String(cString: strerror(errno)); continue }
            var one: Int32 = 1
            // Requests are small and answered at once: do not hold them back for Nagle's algorithm.
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            guard reactor.register(fd) else { lastReason = String(cString: strerror(errno)); close(fd); continue }
            let started = address.bytes.withUnsafeBytes { raw in
                Glibc.connect(fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            var code: Int32 = started == 0 ? 0 : errno
            if code == EINPROGRESS || code == EINTR {
                if await reactor.wait(fd, for: .writable, until: deadline) == .timedOut { close(fd); throw .timedOut }
                var length = socklen_t(MemoryLayout<Int32>.size)
                code = 0
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            }
            if code == 0 { return fd }
            close(fd)
            lastReason = code == ECONNREFUSED ? "connection refused" : String(cString: strerror(code))
        }
        throw .cannotConnect(lastReason)
    }

    /// The server's addresses, looked up once per host and port.
    private func resolve(_ target: PlainHTTPTarget, key: String) throws(Failure) -> [Address] {
        if let known = addresses.withLock({ $0[key] }) { return known }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard status == 0, let first = list else {
            throw .cannotConnect(status == EAI_NONAME ? "host not found" : String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var found: [Address] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let raw = current.pointee.ai_addr {
                found.append(Address(family: current.pointee.ai_family,
                                     bytes: Array(UnsafeRawBufferPointer(start: raw, count: Int(current.pointee.ai_addrlen)))))
            }
            entry = current.pointee.ai_next
        }
        addresses.withLock { $0[key] = found }
        return found
    }
}
#endif
