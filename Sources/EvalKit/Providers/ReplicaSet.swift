import Foundation
import Synchronization

/// Several servers of one model behind one name (vLLM data-parallel servers, llama.cpp servers side by
/// side). Each request goes to the replica with the fewest requests in flight among those below their
/// own concurrency limit and not set aside; a replica that cannot be reached, drops the connection,
/// times out or answers 5xx is set aside for a back-off (1 s, doubling while it keeps failing, at most
/// 30 s) and the request goes to another. When every replica is set aside, the one back soonest is used.
final class ReplicaSet: Sendable {
    let urls: [String]
    let limit: Int

    private struct Replica {
        var inFlight = 0
        var failures = 0
        var asideUntil: ContinuousClock.Instant?
    }
    private struct State {
        var replicas: [Replica]
        /// Requests waiting for a replica below its limit.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(urls: [String], limit: Int) {
        self.urls = urls
        self.limit = max(1, limit)
        state = Mutex(State(replicas: Array(repeating: Replica(), count: urls.count)))
    }

    private enum Pick { case replica(Int), wait, none }

    /// The best replica not in `tried` with a free slot: a healthy one with the fewest in flight; none while a
    /// healthy one is busy (waiting for it beats one set aside); the one back soonest when all are set aside.
    private func pick(_ state: State, excluding tried: Set<Int>, now: ContinuousClock.Instant) -> Pick {
        let open = state.replicas.indices.filter { !tried.contains($0) }
        guard !open.isEmpty else { return .none }
        func isHealthy(_ index: Int) -> Bool { state.replicas[index].asideUntil.map { $0 <= now } ?? true }
        let free = open.filter { state.replicas[$0].inFlight < limit }
        if let best = free.filter(isHealthy).min(by: { state.replicas[$0].inFlight < state.replicas[$1].inFlight }) { return .replica(best) }
        if open.contains(where: isHealthy) { return .wait }
        return free.min { (state.replicas[$0].asideUntil ?? now) < (state.replicas[$1].asideUntil ?? now) }.map(Pick.replica) ?? .wait
    }

    /// Takes a slot on the best replica not in `tried`, waiting while there is none to take; nil when every
    /// replica has been tried.
    func acquire(excluding tried: Set<Int>) async -> Int? {
        while true {
            let chosen = state.withLock { state -> Pick in
                let pick = pick(state, excluding: tried, now: .now)
                if case .replica(let index) = pick { state.replicas[index].inFlight += 1 }
                return pick
            }
            switch chosen {
            case .replica(let index): return index
            case .none: return nil
            case .wait:
                // Decided again under the lock that release takes, so a slot freed in between is not missed.
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if case .wait = pick(state, excluding: tried, now: .now) {
                            state.waiters.append(continuation)
                            return false
                        }
                        return true
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    /// Gives the slot back; `failed` sets the replica aside, success brings it back at once.
    func release(_ index: Int, failed: Bool) {
        // Every waiter looks again: the slot may be on a replica one of them has already tried.
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.replicas.indices.contains(index) else { return [] }
            state.replicas[index].inFlight -= 1
            if failed {
                state.replicas[index].failures += 1
                let seconds = min(30.0, pow(2.0, Double(min(state.replicas[index].failures, 6) - 1)))
                state.replicas[index].asideUntil = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
            } else {
                state.replicas[index].failures = 0
                state.replicas[index].asideUntil = nil
            }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Sets a replica aside as a failure would (a replica that did not answer its start probe).
    func setAside(_ index: Int) {
        state.withLock { state in
            guard state.replicas.indices.contains(index) else { return }
            state.replicas[index].inFlight += 1
        }
        release(index, failed: true)
    }

    /// Whether `error` says something about the replica (unreachable, overloaded, broken) rather than the request.
    static func isReplicaFailure(_ error: ProviderError) -> Bool {
        switch error {
        case .unreachable, .connectionLost, .keptConnectionClosed, .timeout: return true
        case .http(let status, _, _, _): return status >= 500
        default: return false
        }
    }

    /// Runs `body` on replicas in turn (the best first) until one does not fail as a replica, and says which answered.
    func run<T: Sendable>(_ body: (String) async throws(ProviderError) -> T) async throws(ProviderError) -> (value: T, replica: String) {
        var tried = Set<Int>()
        var lastError: ProviderError?
        while let index = await acquire(excluding: tried) {
            tried.insert(index)
            do {
                let value = try await body(urls[index])
                release(index, failed: false)
                return (value, urls[index])
            } catch {
                let replicaFailed = Self.isReplicaFailure(error)
                release(index, failed: replicaFailed)
                guard replicaFailed else { throw error }
                lastError = error
            }
        }
        throw lastError ?? .unreachable(url: urls.first ?? "", reason: "no replica")
    }
}
