import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP for the API providers, errors mapped to `ProviderError`. `http://` servers are reached over
/// evalkit's own keep-alive connections (`SocketHTTPTransport`, Linux), `https://` through URLSession.
struct HTTPClient: Sendable {
    let timeoutSeconds: Double
    let maxConnections: Int
    #if os(Linux)
    private let sockets: SocketHTTPTransport?
    #endif
    /// Created on first use: a run against local servers never needs it.
    private let urlSession: LazySession

    init(timeoutSeconds: Double, maxConnections: Int) {
        self.timeoutSeconds = timeoutSeconds
        self.maxConnections = max(1, maxConnections)
        #if os(Linux)
        sockets = SocketHTTPTransport(maxIdleConnections: max(1, maxConnections))
        #endif
        urlSession = LazySession(timeoutSeconds: timeoutSeconds, maxConnections: max(1, maxConnections))
    }

    /// Joins a base URL and a path without doubling or dropping the slash.
    static func url(_ base: String, _ path: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + path
    }

    /// Closes idle connections and cancels what URLSession still has; safe to call more than once.
    func shutdown() {
        #if os(Linux)
        sockets?.closeIdle()
        #endif
        urlSession.invalidate()
    }

    /// Checks that something answers HTTP at `url`: any status counts, only a failed connection does not.
    /// It waits at least 10 s and at most 30 (longer when a request may take longer): a busy machine can take seconds to answer.
    func probe(_ url: String, headers: [String: String] = [:]) async throws(ProviderError) {
        do {
            // At least 10 s whatever the request timeout: a server busy as a run starts answers its probe late, and
            // a failed probe fails every request of the model; a dead one is refused at once anyway.
            _ = try await send("GET", url, headers: headers, body: nil, timeout: min(max(timeoutSeconds, 10), 30), keepAlive: false)
        } catch {
            switch error {
            case .unreachable: throw error
            case .timeout: throw .unreachable(url: url, reason: "timed out")
            default: throw .unreachable(url: url, reason: error.description)
            }
        }
    }

    /// True when `url` answers with a 2xx status (a loading llama.cpp server answers 503).
    func isReady(_ url: String) async -> Bool {
        guard let response = try? await send("GET", url, headers: [:], body: nil, timeout: 2, keepAlive: false) else { return false }
        return (200..<300).contains(response.status)
    }

    /// POSTs a JSON body and returns the parsed JSON answer.
    func postJSON(_ url: String, body: JSON, headers: [String: String]) async throws(ProviderError) -> JSON {
        let response = try await post(url, body: body, headers: headers, timeline: false)
        let parsed = try? JSON.parse(bytes: response.body)
        guard let parsed else {
            throw .badResponse(url: url, reason: "the body is not JSON: \"\(Text.preview(String(decoding: response.body, as: UTF8.self), limit: 120))\"")
        }
        return parsed
    }

    /// POSTs a JSON body and returns a 2xx response as it came (with `timeline`, when each part of its body
    /// arrived, over evalkit's own connections); any other status is an error.
    func post(_ url: String, body: JSON, headers: [String: String], timeline: Bool) async throws(ProviderError) -> HTTPResponseMessage {
        var bytes: [UInt8] = []
        body.encode(into: &bytes)
        let response = try await send("POST", url, headers: headers, body: bytes, timeout: timeoutSeconds, keepAlive: true, timeline: timeline)
        guard (200..<300).contains(response.status) else {
            throw .http(status: response.status, url: url, message: Self.errorMessage(try? JSON.parse(bytes: response.body), raw: response.body),
                        retryAfter: response.header("retry-after").flatMap(Self.retryAfterSeconds))
        }
        return response
    }

    /// One request through the transport that fits the URL's scheme.
    func send(_ method: String, _ url: String, headers: [String: String], body: [UInt8]?, timeout: Double,
              keepAlive: Bool, timeline: Bool = false) async throws(ProviderError) -> HTTPResponseMessage {
        // JSON unless the caller names another content type (a multipart upload).
        let namesType = headers.keys.contains { $0.lowercased() == "content-type" }
        var fields: [(String, String)] = body == nil || namesType ? [] : [("Content-Type", "application/json")]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            guard !HTTPRequestBytes.isUnsafe(name), !HTTPRequestBytes.isUnsafe(value) else {
                throw .invalidRequest(url: url, reason: "the \(name) header contains a line break; check the API key variable")
            }
            fields.append((name, value))
        }
        #if os(Linux)
        if let sockets, let target = PlainHTTPTarget(url) {
            if !keepAlive { fields.append(("Connection", "close")) }
            let request = HTTPRequestBytes.make(method: method, target: target, headers: fields, body: body)
            do {
                return try await sockets.exchange(request, method: method, to: target, deadline: .now + .seconds(timeout), reuse: keepAlive,
                                                  timeline: timeline)
            } catch {
                switch error {
                case .timedOut: throw .timeout(seconds: timeout)
                case .cannotConnect(let reason): throw .unreachable(url: url, reason: reason)
                case .lost, .notSent: throw .connectionLost(url: url)
                case .keptConnectionClosed: throw .keptConnectionClosed(url: url)
                case .wire(let problem): throw .badResponse(url: url, reason: problem.description)
                }
            }
        }
        #endif
        return try await urlSession.send(method, url, headers: fields, body: body, timeout: timeout)
    }

    /// Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110 §10.2.3).
    static func retryAfterSeconds(_ value: String) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: trimmed).map { max(0, $0.timeIntervalSinceNow) }
    }

    /// The server's own error message (OpenAI and Anthropic both use `error.message`), shortened.
    static func errorMessage(_ json: JSON?, raw: [UInt8]) -> String {
        if let message = json?["error"]?["message"]?.stringValue ?? json?["error"]?.stringValue ?? json?["message"]?.stringValue {
            return Text.preview(message, limit: 300)
        }
        let text = String(decoding: raw, as: UTF8.self)
        return text.isEmpty ? "(empty body)" : Text.preview(text, limit: 300)
    }
}

/// URLSession for `https://` (and for everything where sockets are not used), made on first use.
final class LazySession: Sendable {
    private let timeoutSeconds: Double
    private let maxConnections: Int
    private let current = Mutex<URLSession?>(nil)

    init(timeoutSeconds: Double, maxConnections: Int) {
        self.timeoutSeconds = timeoutSeconds
        self.maxConnections = maxConnections
    }

    private var session: URLSession {
        current.withLock { existing in
            if let existing { return existing }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = timeoutSeconds
            configuration.timeoutIntervalForResource = timeoutSeconds
            configuration.httpMaximumConnectionsPerHost = maxConnections
            configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
            configuration.urlCache = nil
            let made = URLSession(configuration: configuration)
            existing = made
            return made
        }
    }

    /// Cancels what is in flight; a later request makes a new session.
    func invalidate() {
        current.withLock { existing in
            existing?.invalidateAndCancel()
            existing = nil
        }
    }

    func send(_ method: String, _ url: String, headers: [(String, String)], body: [UInt8]?, timeout: Double) async throws(ProviderError) -> HTTPResponseMessage {
        guard let target = URL(string: url) else { throw .badResponse(url: url, reason: "not a valid URL") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body.map { Data($0) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            switch error.code {
            case .timedOut: throw .timeout(seconds: timeout)
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
                throw .unreachable(url: url, reason: Self.describe(error))
            case .networkConnectionLost, .badServerResponse, .cannotParseResponse, .zeroByteResource, .resourceUnavailable:
                throw .connectionLost(url: url)
            default: throw .badResponse(url: url, reason: Self.describe(error))
            }
        } catch {
            throw .badResponse(url: url, reason: Self.describe(error))
        }
        let http = response as? HTTPURLResponse
        let fields = (http?.allHeaderFields ?? [:]).compactMap { name, value -> (name: String, value: String)? in
            guard let name = name as? String else { return nil }
            return (name.lowercased(), value as? String ?? String(describing: value))
        }
        return HTTPResponseMessage(status: http?.statusCode ?? 0, headers: fields, body: [UInt8](data), keepAlive: true)
    }

    static func describe(_ error: Error) -> String {
        if let urlError = error as? URLError {
            switch urlError.code {
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost, .dnsLookupFailed: return "host not found"
            case .timedOut: return "timed out"
            case .notConnectedToInternet: return "no network"
            default: return (urlError as NSError).localizedDescription
            }
        }
        return String(describing: error)
    }
}

extension GenerationSettings {
    /// Adds the sampling settings that are set to an OpenAI-style request body.
    func appendOpenAIFields(to members: inout [(String, JSON)]) {
        if let temperature { members.append(("temperature", .number(temperature))) }
        members.append(("max_tokens", .number(Double(maxTokens))))
        if !stop.isEmpty { members.append(("stop", .array(stop.map(JSON.string)))) }
        if let seed { members.append(("seed", .number(Double(seed)))) }
    }
}

/// What an API provider needs to reach its server: the HTTP client and the key, read once
/// from the environment variable the config names (a missing key fails the model at start).
struct APIAccess: Sendable {
    let client: HTTPClient
    let key: String?
    let keyError: ProviderError?

    init(keyVariable: String?, timeoutSeconds: Double, concurrency: Int) {
        client = HTTPClient(timeoutSeconds: timeoutSeconds, maxConnections: concurrency)
        do { key = try apiKey(from: keyVariable); keyError = nil } catch { key = nil; keyError = error }
    }

    /// The Authorization header of OpenAI-style APIs, when there is a key.
    var bearerHeaders: [String: String] { key.map { ["Authorization": "Bearer \($0)"] } ?? [:] }

    /// POSTs a request; a rejected key (401/403) names the variable it came from, never its value.
    func post(_ url: String, body: JSON, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> JSON {
        do {
            // A server may echo the key inside a normal answer too: it must reach no result, cache or report.
            return redacted(try await client.postJSON(url, body: body, headers: headers))
        } catch {
            throw mapped(error, url: url, keyVariable: keyVariable)
        }
    }

    /// POSTs a request whose answer is a stream of server-sent events, with when each part arrived (the
    /// caller redacts what it reads from it, as `post` does).
    func postStream(_ url: String, body: JSON, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> HTTPResponseMessage {
        do { return try await client.post(url, body: body, headers: headers, timeline: true) } catch {
            throw mapped(error, url: url, keyVariable: keyVariable)
        }
    }

    /// GETs a resource (a batch job's state, a results file) and returns its body; non-2xx is an error.
    func get(_ url: String, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> [UInt8] {
        do throws(ProviderError) {
            let response = try await client.send("GET", url, headers: headers, body: nil, timeout: client.timeoutSeconds, keepAlive: true)
            guard (200..<300).contains(response.status) else {
                throw ProviderError.http(status: response.status, url: url, message: HTTPClient.errorMessage(try? JSON.parse(bytes: response.body), raw: response.body))
            }
            return response.body
        } catch {
            throw mapped(error, url: url, keyVariable: keyVariable)
        }
    }

    /// GETs a JSON resource, redacted as `post` does.
    func getJSON(_ url: String, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> JSON {
        let body = try await get(url, headers: headers, keyVariable: keyVariable)
        guard let json = try? JSON.parse(bytes: body) else {
            throw .badResponse(url: url, reason: "the body is not JSON: \"\(Text.preview(String(decoding: body, as: UTF8.self), limit: 120))\"")
        }
        return redacted(json)
    }

    /// POSTs raw bytes (a multipart file upload) with their content type; the answer must be JSON.
    func postBytes(_ url: String, bytes: [UInt8], contentType: String, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> JSON {
        do throws(ProviderError) {
            var all = headers
            all["Content-Type"] = contentType
            let response = try await client.send("POST", url, headers: all, body: bytes, timeout: client.timeoutSeconds, keepAlive: true)
            guard (200..<300).contains(response.status) else {
                throw ProviderError.http(status: response.status, url: url, message: HTTPClient.errorMessage(try? JSON.parse(bytes: response.body), raw: response.body))
            }
            guard let json = try? JSON.parse(bytes: response.body) else { throw ProviderError.badResponse(url: url, reason: "the body is not JSON") }
            return redacted(json)
        } catch {
            throw mapped(error, url: url, keyVariable: keyVariable)
        }
    }

    /// An HTTP error as the user should read it: a rejected key names its variable, never its value.
    func mapped(_ error: ProviderError, url: String, keyVariable: String?) -> ProviderError {
        guard case let .http(status, _, serverMessage, retryAfter) = error else { return error }
        // Some servers quote the key back in their error; it must not reach results or logs.
        let message = key.map { serverMessage.replacingOccurrences(of: $0, with: "[redacted]") } ?? serverMessage
        if status == 401 || status == 403 {
            let source = keyVariable.map { "the API key from environment variable \($0)" } ?? "the request has no API key (set api_key_env)"
            return .http(status: status, url: url, message: "\(source) was rejected: \(message)")
        }
        return .http(status: status, url: url, message: message, retryAfter: retryAfter)
    }

    /// The answer with every occurrence of the key in its strings replaced by "[redacted]".
    func redacted(_ json: JSON) -> JSON {
        guard let key, !key.isEmpty else { return json }
        switch json {
        case .string(let text): return text.contains(key) ? .string(text.replacingOccurrences(of: key, with: "[redacted]")) : json
        case .array(let items): return .array(items.map(redacted))
        case .object(let members): return .object(members.map { ($0.0.replacingOccurrences(of: key, with: "[redacted]"), redacted($0.1)) })
        default: return json
        }
    }

    /// Fails when the key variable is missing, then checks that the server answers at `probeURL`.
    func start(probeURL: String, headers: [String: String]) async throws(ProviderError) {
        if let keyError { throw keyError }
        try await client.probe(probeURL, headers: headers)
    }
}

/// Reads an API key from the environment variable the config names.
func apiKey(from variable: String?) throws(ProviderError) -> String? {
    guard let variable else { return nil }
    guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
        throw .missingAPIKey(variable: variable)
    }
    return value
}
