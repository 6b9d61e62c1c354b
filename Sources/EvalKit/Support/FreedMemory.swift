#if canImport(CEpoll)
import CEpoll
#endif

/// Gives memory the process has freed back to the system.
enum FreedMemory {
    /// glibc keeps what a thread frees in that thread's arena, where no other thread reuses it: after work
    /// done on another core (the data audit beside the reading of results) that memory would otherwise stay
    /// part of the process while the results grow.
    static func returnToSystem() {
        #if canImport(CEpoll)
        _ = malloc_trim(0)
        #endif
    }
}
