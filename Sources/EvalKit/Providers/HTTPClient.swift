import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// JSON over HTTP for the API providers: one URLSession per model, errors mapped to `ProviderError`.
struct HTTPClient: Sendable {
    let session: URLSession
    let timeoutSeconds: Double

    init(timeoutSeconds: Double, maxConnections: Int) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        configuration.httpMaximumConnectionsPerHost = max(1, maxConnections)
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
        self.timeoutSeconds = timeoutSeconds
    }

    /// Joins a base URL and a path without doubling or dropping the slash.
    static func url(_ base: String, _ path: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + path
    }

    /// Checks that something answers HTTP at `url`: any status counts, only a failed connection does not.
    func probe(_ url: String, headers: [String: String] = [:]) async throws(ProviderError) {
        guard let target = URL(string: url) else { throw .unreachable(url: url, reason: "not a valid URL") }
        var request = URLRequest(url: target, timeoutInterval: min(timeoutSeconds, 5))
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        do {
            _ = try await session.data(for: request)
        } catch {
            throw .unreachable(url: url, reason: Self.describe(error))
        }
    }

    /// POSTs a JSON body and returns the parsed JSON answer.
    func postJSON(_ url: String, body: JSON, headers: [String: String]) async throws(ProviderError) -> JSON {
        guard let target = URL(string: url) else { throw .badResponse(url: url, reason: "not a valid URL") }
        var request = URLRequest(url: target, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(body.encoded().utf8)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            switch error.code {
            case .timedOut: throw .timeout(seconds: timeoutSeconds)
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
                throw .unreachable(url: url, reason: Self.describe(error))
            case .networkConnectionLost, .badServerResponse, .cannotParseResponse, .zeroByteResource, .resourceUnavailable:
                throw .connectionLost(url: url)
            default: throw .badResponse(url: url, reason: Self.describe(error))
            }
        } catch {
            throw .badResponse(url: url, reason: Self.describe(error))
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let parsed = try? JSON.parse(bytes: [UInt8](data))
        guard (200..<300).contains(status) else {
            let retryAfter = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After").flatMap(Self.retryAfterSeconds)
            throw .http(status: status, url: url, message: Self.errorMessage(parsed, raw: data), retryAfter: retryAfter)
        }
        guard let parsed else {
            throw .badResponse(url: url, reason: "the body is not JSON: \"\(Text.preview(String(decoding: data, as: UTF8.self), limit: 120))\"")
        }
        return parsed
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
    static func errorMessage(_ json: JSON?, raw: Data) -> String {
        if let message = json?["error"]?["message"]?.stringValue ?? json?["error"]?.stringValue ?? json?["message"]?.stringValue {
            return Text.preview(message, limit: 300)
        }
        let text = String(decoding: raw, as: UTF8.self)
        return text.isEmpty ? "(empty body)" : Text.preview(text, limit: 300)
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
        if let maxTokens { members.append(("max_tokens", .number(Double(maxTokens)))) }
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

    /// POSTs a request; a rejected key (401/403) names the variable it came from, never its value.
    func post(_ url: String, body: JSON, headers: [String: String], keyVariable: String?) async throws(ProviderError) -> JSON {
        do {
            return try await client.postJSON(url, body: body, headers: headers)
        } catch {
            guard case let .http(status, _, serverMessage, retryAfter) = error else { throw error }
            // Some servers quote the key back in their error; it must not reach results or logs.
            let message = key.map { serverMessage.replacingOccurrences(of: $0, with: "[redacted]") } ?? serverMessage
            if status == 401 || status == 403 {
                let source = keyVariable.map { "the API key from environment variable \($0)" } ?? "the request has no API key (set api_key_env)"
                throw .http(status: status, url: url, message: "\(source) was rejected: \(message)")
            }
            throw .http(status: status, url: url, message: message, retryAfter: retryAfter)
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
