// Hand-written, thin: the shapes a Swift app expects over the generated bindings in gofast.swift.
// Events as an AsyncStream, and transfers as async functions that cancel with their Task.
import Foundation

/// Hands the library's events to an AsyncStream's continuation (called on a library thread).
final class StreamListener: EventListener {
    let continuation: AsyncStream<Event>.Continuation
    init(_ continuation: AsyncStream<Event>.Continuation) { self.continuation = continuation }
    func onEvent(event: Event) { continuation.yield(event) }
}

/// Forwards progress to a closure.
final class ClosureProgress: ProgressListener {
    let report: @Sendable (UInt64, UInt64?) -> Void
    init(_ report: @escaping @Sendable (UInt64, UInt64?) -> Void) { self.report = report }
    func onProgress(done: UInt64, total: UInt64?) { report(done, total) }
}

extension Node {
    /// The node's events: each stream subscribes when made and unsubscribes when it ends (its
    /// consumer stops iterating or its Task is cancelled). Holds the newest 256 events for a slow
    /// consumer; the node reports `.missed` if it falls further behind.
    public func events() -> AsyncStream<Event> {
        AsyncStream(bufferingPolicy: .bufferingNewest(256)) { continuation in
            do {
                let subscription = try self.subscribe(listener: StreamListener(continuation))
                continuation.onTermination = { _ in subscription.unsubscribe() }
            } catch {
                continuation.finish()
            }
        }
    }

    /// Adds the file or directory at `path`; returns when it is stored and announced.
    public func add(
        path: String, progress: (@Sendable (UInt64, UInt64?) -> Void)? = nil
    ) async throws -> TransferResult {
        try await addFile(path: path, listener: progress.map(ClosureProgress.init)).result()
    }

    /// Fetches `uri` into `dest` (a file, or a new directory for a `…/` URI).
    public func fetch(
        uri: String, dest: String, progress: (@Sendable (UInt64, UInt64?) -> Void)? = nil
    ) async throws -> TransferResult {
        try await getToFile(uri: uri, dest: dest, listener: progress.map(ClosureProgress.init))
            .result()
    }
}

extension Transfer {
    /// Waits for the end; cancelling the awaiting Task cancels the transfer.
    public func result() async throws -> TransferResult {
        try await withTaskCancellationHandler {
            try await self.wait()
        } onCancel: {
            self.cancel()
        }
    }
}
