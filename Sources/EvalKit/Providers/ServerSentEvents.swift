/// A streamed answer's server-sent events (`text/event-stream`), as OpenAI-compatible servers send a
/// completion with `"stream": true`: the `data:` of each event parsed as JSON, with where in the body
/// the event ended (to find when it arrived), and whether the stream ended with `data: [DONE]`.
struct ServerSentEvents {
    struct Event {
        var data: JSON
        /// Body bytes up to and including the blank line that ended the event.
        var end: Int
    }
    var events: [Event] = []
    var done = false

    /// Reads `body`; an event whose data is not JSON is a malformed stream, named with what it held.
    init(_ body: [UInt8]) throws(ProviderError) {
        var lineStart = 0
        var data: [UInt8] = []
        var hasData = false
        var index = 0
        while index < body.count {
            guard body[index] == 10 else { index += 1; continue }
            var line = body[lineStart..<index]
            if line.last == 13 { line = line.dropLast() }
            if line.isEmpty {
                if hasData { try finish(data, end: index + 1) }
                data = []
                hasData = false
            } else if line.starts(with: Array("data:".utf8)) {
                var value = line.dropFirst(5)
                if value.first == 32 { value = value.dropFirst() }
                if hasData { data.append(10) }
                data.append(contentsOf: value)
                hasData = true
            }
            // Comments (":") and other fields (event, id, retry) carry nothing evalkit reads.
            index += 1
            lineStart = index
        }
        if hasData { try finish(data, end: body.count) }
    }

    private mutating func finish(_ data: [UInt8], end: Int) throws(ProviderError) {
        if data == Array("[DONE]".utf8) { done = true; return }
        do { events.append(Event(data: try JSON.parse(bytes: data), end: end)) } catch {
            throw .badResponse(url: "", reason: "a streamed event is not JSON: \"\(Text.preview(String(decoding: data, as: UTF8.self), limit: 120))\"")
        }
    }
}
