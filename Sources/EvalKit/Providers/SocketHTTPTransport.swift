#if os(Linux)
import Foundation
import CEpoll
import Glibc
import Synchronization

/// Waits for sockets to become readable or writable: one epoll instance and one thread for the whole
/// process. A request then costs a few system calls and one hop back to its task; URLSession on Linux
/// goes through libcurl and Dispatch with several thread switches per request, which made it the
/// bottleneck against fast local servers (bench/results.md).
///
/// The thread sleeps until the next socket event or the nearest deadline, and with nothing to wait for it
/// sleeps without a limit; a waiter whose deadline comes before the planned wake-up rings an eventfd.
final class SocketReactor: Sendable {
    enum Interest { case readable, writable }
    enum Wakeup { case ready, timedOut }

    /// The process's reactor; nil only if the kernel refused an epoll instance or an eventfd.
    static let shared: SocketReactor? = SocketReactor()

    private struct Waiter {
        let continuation: UnsafeContinuation<Wakeup, Never>
        let deadline: ContinuousClock.Instant
    }
    private struct State {
        /// One waiter per socket at most: a connection is used by one request at a time.
        var waiters: [Int32: Waiter] = [:]
        /// When the loop means to wake if no socket event comes first; nil while it sleeps without a limit.
        var plannedWake: ContinuousClock.Instant?
    }
    private let epoll: Int32
    private let bell: Int32
    private let state = Mutex(State())

    private init?() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        bell = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = bell
        guard epoll >= 0, bell >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, bell, &event) == 0 else {
            if epoll >= 0 { close(epoll) }
            if bell >= 0 { close(bell) }
            return nil
        }
        // Named from inside: Foundation on Linux leaves a thread the name of the one that started it.
        Thread.detachNewThread { [self] in
            _ = evalkit_name_this_thread("evalkit-sockets")
            self.loop()
        }
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
            let sooner = state.withLock { state -> Bool in
                state.waiters[fd] = Waiter(continuation: continuation, deadline: deadline)
                guard state.plannedWake.map({ deadline < $0 }) ?? true else { return false }
                state.plannedWake = deadline
                return true
            }
            if sooner { ring() }
            var event = epoll_event()
            event.events = (interest == .readable ? EPOLLIN.rawValue : EPOLLOUT.rawValue) | EPOLLONESHOT.rawValue
            event.data.fd = fd
            if epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) != 0 {
                // Not armed: let the caller's next system call report what is wrong with the socket.
                if let waiter = state.withLock({ $0.waiters.removeValue(forKey: fd) }) { waiter.continuation.resume(returning: .ready) }
            }
        }
    }

    private func ring() {
        var one: UInt64 = 1
        _ = write(bell, &one, MemoryLayout<UInt64>.size)
    }

    private func loop() {
        let capacity: Int32 = 256
        var events = [epoll_event](repeating: epoll_event(), count: Int(capacity))
        var woken: [(UnsafeContinuation<Wakeup, Never>, Wakeup)] = []
        var sleepUntil: ContinuousClock.Instant? = nil
        while true {
            let timeout = sleepUntil.map { Self.milliseconds(from: .now, to: $0) } ?? -1
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, capacity, timeout) }
            if count < 0 && errno != EINTR {
                // epoll itself failing is not expected; pace the loop rather than spin.
                usleep(10_000)
                continue
            }
            // The bell is drained before the waiters are looked at: a waiter that rings after this is
            // either seen below or leaves the bell ringing for the next epoll_wait, never lost between.
            let rung = (0..<max(0, Int(count))).contains { events[$0].data.fd == bell }
            if rung {
                var value: UInt64 = 0
                _ = read(bell, &value, MemoryLayout<UInt64>.size)
            }
            woken.removeAll(keepingCapacity: true)
            let now = ContinuousClock.now
            sleepUntil = state.withLock { state -> ContinuousClock.Instant? in
                for index in 0..<max(0, Int(count)) {
                    let fd = events[index].data.fd
                    if fd != bell, let waiter = state.waiters.removeValue(forKey: fd) { woken.append((waiter.continuation, .ready)) }
                }
                // The planned wake-up stays right unless it has come or a sooner deadline rang the bell
                // (a waiter that left early only makes the wake-up come too soon, which is harmless).
                if let planned = state.plannedWake, planned > now, !rung { return planned }
                var nearest: ContinuousClock.Instant? = nil
                for (fd, waiter) in state.waiters {
                    if waiter.deadline <= now {
                        state.waiters.removeValue(forKey: fd)
                        woken.append((waiter.continuation, .timedOut))
                    } else if nearest.map({ waiter.deadline < $0 }) ?? true {
                        nearest = waiter.deadline
                    }
                }
                state.plannedWake = nearest
                return nearest
            }
            for (continuation, wakeup) in woken { continuation.resume(returning: wakeup) }
        }
    }

    /// epoll's timeout for a wake-up at `deadline`: whole milliseconds rounded up, so the deadline has
    /// passed on waking, and capped at a day (a later deadline just costs one more wake-up).
    static func milliseconds(from now: ContinuousClock.Instant, to deadline: ContinuousClock.Instant) -> Int32 {
        guard deadline > now else { return 0 }
        let left = deadline - now
        if left >= .seconds(86_400) { return 86_400_000 }
        let (seconds, attoseconds) = left.components
        return Int32(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
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
        /// A kept connection ended after the request was written and before a byte of answer: most likely
        /// the server closed it as idle while the request was on its way, but it may have read it.
        case keptConnectionClosed
        case wire(HTTPWireError)
    }

    struct Address: Sendable {
        let family: Int32
        let bytes: [UInt8]
    }

    private let reactor: SocketReactor
    private let maxIdle: Int
    /// Open connections not in use, by "host:port".
    private let idle = Mutex<[String: [Int32]]>([:])
    private let addresses = Mutex<[String: (list: [Address], expires: ContinuousClock.Instant)]>([:])

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
    /// dropped before use; a request is sent again only when none of it was written (as Go's client does
    /// for POST): once written, the server may have acted on it, and the failure is the caller's.
    /// With `timeline`, the response says when each part of its body arrived.
    func exchange(_ request: [UInt8], method: String, to target: PlainHTTPTarget, deadline: ContinuousClock.Instant,
                  reuse: Bool = true, timeline: Bool = false) async throws(Failure) -> HTTPResponseMessage {
        let key = "\(target.host):\(target.port)"
        var fresh = false
        while true {
            let reused = fresh || !reuse ? nil : checkOut(key)
            let fd: Int32
            if let reused { fd = reused } else { fd = try await connect(target, key: key, deadline: deadline) }
            do throws(Failure) {
                let response = try await roundTrip(fd, request: request, method: method, deadline: deadline, timeline: timeline)
                if reuse && response.keepAlive { checkIn(fd, key: key) } else { close(fd) }
                return response
            } catch {
                close(fd)
                // Nothing written: the server has not seen the request, so it goes out again on a new connection.
                if reused != nil, case .notSent = error { fresh = true; continue }
                if reused != nil, case .lost(answered: false) = error { throw .keptConnectionClosed }
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

    private func roundTrip(_ fd: Int32, request: [UInt8], method: String, deadline: ContinuousClock.Instant,
                           timeline: Bool) async throws(Failure) -> HTTPResponseMessage {
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
        var arrivals: [BodyArrival] = []
        func note() {
            let bytes = parser.bodyBytesSoFar
            if timeline && bytes > (arrivals.last?.bodyBytes ?? 0) { arrivals.append(BodyArrival(bodyBytes: bytes, at: .now)) }
        }
        func timed(_ response: HTTPResponseMessage) -> HTTPResponseMessage {
            guard timeline else { return response }
            var copy = response
            if response.body.count > (arrivals.last?.bodyBytes ?? 0) { arrivals.append(BodyArrival(bodyBytes: response.body.count, at: .now)) }
            copy.arrivals = arrivals
            return copy
        }
        // The answer cannot be there yet: wait before the first read instead of a read that finds nothing.
        if await reactor.wait(fd, for: .readable, until: deadline) == .timedOut { throw .timedOut }
        while true {
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                let fed = chunk.withUnsafeBytes { bytes in
                    Result { () throws(HTTPWireError) in try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<received])) }
                }
                switch fed {
                case .success(let response?): return timed(response)
                case .success(nil): note(); continue
                case .failure(let problem): throw .wire(problem)
                }
            }
            if received == 0 {
                guard parser.hasStarted else { throw .lost(answered: false) }
                do throws(HTTPWireError) { return timed(try parser.finish()) } catch { throw .lost(answered: true) }
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK {
                if await reactor.wait(fd, for: .readable, until: deadline) == .timedOut { throw .timedOut }
            } else if code != EINTR {
                throw .lost(answered: parser.hasStarted)
            }
        }
    }

    /// Opens a connection, trying the server's addresses in turn. Each address but the last gets an equal
    /// share of the time left, so one that never answers (a dead IPv6 route) leaves time for the next,
    /// as Happy Eyeballs (RFC 8305) intends, without racing connections in parallel.
    private func connect(_ target: PlainHTTPTarget, key: String, deadline: ContinuousClock.Instant) async throws(Failure) -> Int32 {
        let candidates = try await resolve(target, key: key, deadline: deadline)
        var lastReason = "no address"
        var timedOut = false
        for (index, address) in candidates.enumerated() {
            let now = ContinuousClock.now
            guard now < deadline else { timedOut = true; break }
            let attemptDeadline = index == candidates.count - 1 ? deadline : now + (deadline - now) / (candidates.count - index)
            switch await open(address, until: attemptDeadline) {
            case .success(let fd): return fd
            case .failure(.timedOut): timedOut = true; lastReason = "timed out"
            case .failure(.cannotConnect(let reason)): timedOut = false; lastReason = reason
            case .failure: break
            }
        }
        // None answered: look the name up afresh next time (the server may have moved).
        addresses.withLock { $0[key] = nil }
        throw timedOut ? .timedOut : .cannotConnect(lastReason)
    }

    private func open(_ address: Address, until deadline: ContinuousClock.Instant) async -> Result<Int32, Failure> {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.cannotConnect(String(cString: strerror(errno)))) }
        var one: Int32 = 1
        // Requests are small and answered at once: do not hold them back for Nagle's algorithm.
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard reactor.register(fd) else {
            let reason = String(cString: strerror(errno))
            close(fd)
            return .failure(.cannotConnect(reason))
        }
        let started = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        var code: Int32 = started == 0 ? 0 : errno
        if code == EINPROGRESS || code == EINTR {
            if await reactor.wait(fd, for: .writable, until: deadline) == .timedOut { close(fd); return .failure(.timedOut) }
            var length = socklen_t(MemoryLayout<Int32>.size)
            code = 0
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        }
        if code == 0 { return .success(fd) }
        close(fd)
        return .failure(.cannotConnect(code == ECONNREFUSED ? "connection refused" : String(cString: strerror(code))))
    }

    /// The server's addresses. A numeric host is parsed in place; a name is looked up on a thread of its
    /// own (getaddrinfo blocks and has no timeout, so it must not hold one of Swift's few cooperative
    /// threads), within the request's deadline, and kept for a minute.
    private func resolve(_ target: PlainHTTPTarget, key: String, deadline: ContinuousClock.Instant) async throws(Failure) -> [Address] {
        let now = ContinuousClock.now
        if let known = addresses.withLock({ $0[key] }), known.expires > now { return known.list }
        let host = target.host, port = String(target.port)
        if let numeric = try? Self.lookUp(host, port, numericOnly: true) { return numeric }
        let pending = PendingLookup()
        let left = deadline - now
        Thread.detachNewThread {
            let result = Result { () throws(Failure) in try Self.lookUp(host, port, numericOnly: false) }
            pending.finish(result)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18) {
            pending.finish(.failure(.timedOut))
        }
        let found = try await pending.value().get()
        addresses.withLock { $0[key] = (found, ContinuousClock.now + Self.addressLifetime) }
        return found
    }

    private static let addressLifetime = Duration.seconds(60)

    private static func lookUp(_ host: String, _ port: String, numericOnly: Bool) throws(Failure) -> [Address] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        if numericOnly { hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, port, &hints, &list)
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
        guard !found.isEmpty else { throw .cannotConnect("host not found") }
        return found
    }
}

/// A name lookup's answer, delivered once to whoever awaits it: the lookup or the deadline, whichever comes first.
private final class PendingLookup: Sendable {
    typealias Outcome = Result<[SocketHTTPTransport.Address], SocketHTTPTransport.Failure>
    private struct State {
        var result: Outcome?
        var waiter: CheckedContinuation<Outcome, Never>?
    }
    private let state = Mutex(State())

    func finish(_ result: Outcome) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func value() async -> Outcome {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Outcome? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
#endif
