import CHiredis
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// hiredis' event hooks (`addRead`, `delRead`, `addWrite`, `delWrite`, `cleanup`) on Dispatch sources.
///
/// Like hiredis' `adapters/*.h`: it only translates hooks into source state and knows nothing of commands.
/// Each source watches a `dup()` of the socket of its own, closed in its cancel handler, because `redisFree`
/// closes the original descriptor before Dispatch has finished with it. One descriptor per source, not one
/// shared: libdispatch keeps one epoll registration per descriptor, and when the peer hangs up while only the
/// write source is armed (a server that answers the connect and closes at once: `maxclients`, `-DENIED`) it drops
/// that registration; a read source resumed later on the same descriptor then never fires (`EPOLL_CTL_MOD`
/// fails with `ENOENT`) and the connect would hang until its timeout instead of reading the error or EOF.
///
/// Writes: while the socket connects, `addWrite` waits for writability on the write source. Once
/// `deferWrites` is set (after connect), `addWrite` schedules one flush block on the queue instead, so every
/// command appended in the same queue turn leaves in one `write`; only a partial write falls back to the source.
///
/// Reads: `pauseReads` holds the read source while a caller reads its reply on its own thread (suspend counts stay
/// exact: each of "not active" and "paused" holds one suspension).
///
/// `@unchecked Sendable`: confined to `queue`; every hook runs there because every hiredis call is made there.
final class DispatchEventAdapter: @unchecked Sendable {
    private let queue: DispatchQueue
    private let readSource: any DispatchSourceRead
    private let writeSource: any DispatchSourceWrite
    private var readActive = false
    /// Whether the read source is paused (`pauseReads`): a caller reads replies on its own thread.
    private(set) var readsPaused = false
    private var writeActive = false
    private var flushScheduled = false
    private var flushing = false
    private var cancelled = false
    private let onWritable: () -> Void
    /// Set once the socket is connected: writes go through a queued flush instead of the write source.
    var deferWrites = false
    /// Set while a caller appends from its own thread (`DispatchQueue.sync`) and flushes itself afterwards
    /// with `flushIfPending`: no flush block is queued, so no queue thread is woken for it.
    var callerFlushes = false
    /// Called on the queue when the cleanup hook ran: the context is being freed and must not be used again.
    var onCleanup: (() -> Void)?

    /// Creates the sources, each on a duplicate of `fd`; `nil` if `dup` fails (out of descriptors).
    init?(fd: Int32, queue: DispatchQueue, onReadable: @escaping () -> Void, onWritable: @escaping () -> Void) {
        let readFD = dup(fd)
        guard readFD >= 0 else { return nil }
        let writeFD = dup(fd)
        guard writeFD >= 0 else {
            close(readFD)
            return nil
        }
        self.queue = queue
        self.onWritable = onWritable
        readSource = DispatchSource.makeReadSource(fileDescriptor: readFD, queue: queue)
        writeSource = DispatchSource.makeWriteSource(fileDescriptor: writeFD, queue: queue)
        readSource.setEventHandler(handler: onReadable)
        writeSource.setEventHandler(handler: onWritable)
        readSource.setCancelHandler { close(readFD) }
        writeSource.setCancelHandler { close(writeFD) }
    }

    /// Installs the hooks into `context`; `ev.data` points at `self` unretained (the owner keeps `self` alive).
    func attach(to context: UnsafeMutablePointer<redisAsyncContext>) {
        context.pointee.ev.data = Unmanaged.passUnretained(self).toOpaque()
        context.pointee.ev.addRead = { DispatchEventAdapter.from($0)?.addRead() }
        context.pointee.ev.delRead = { DispatchEventAdapter.from($0)?.delRead() }
        context.pointee.ev.addWrite = { DispatchEventAdapter.from($0)?.addWrite() }
        context.pointee.ev.delWrite = { DispatchEventAdapter.from($0)?.delWrite() }
        context.pointee.ev.cleanup = { DispatchEventAdapter.from($0)?.cleanup() }
    }

    private static func from(_ data: UnsafeMutableRawPointer?) -> DispatchEventAdapter? {
        guard let data else { return nil }
        return Unmanaged<DispatchEventAdapter>.fromOpaque(data).takeUnretainedValue()
    }

    private func addRead() {
        guard !readActive, !cancelled else { return }
        readActive = true
        readSource.resume()
    }

    private func delRead() {
        guard readActive, !cancelled else { return }
        readActive = false
        readSource.suspend()
    }

    private func addWrite() {
        guard !cancelled, !writeActive else { return }
        if deferWrites && !flushing {
            guard !flushScheduled else { return }
            flushScheduled = true
            if !callerFlushes { queue.async(execute: flush) }
        } else {
            writeActive = true
            writeSource.resume()
        }
    }

    /// Holds the read source's events while a caller reads the reply on its own thread.
    func pauseReads() {
        guard !readsPaused, !cancelled else { return }
        readsPaused = true
        readSource.suspend()
    }

    /// Lets the read source deliver events again (one that arrived while paused is delivered now).
    func resumeReads() {
        guard readsPaused, !cancelled else { return }
        readsPaused = false
        readSource.resume()
    }

    private func delWrite() {
        guard writeActive, !cancelled else { return }
        writeActive = false
        writeSource.suspend()
    }

    /// The queued flush: one `redisAsyncHandleWrite` for everything appended since it was scheduled.
    /// A partial write calls `addWrite` while `flushing`, which arms the write source for the rest.
    private func flush() {
        flushScheduled = false
        guard !cancelled else { return }
        flushing = true
        onWritable()
        flushing = false
    }

    /// Writes what was appended while `callerFlushes` was set, now, on the calling thread (inside the queue).
    func flushIfPending() {
        if flushScheduled { flush() }
    }

    private func cleanup() {
        guard !cancelled else { return }
        cancelled = true
        readSource.cancel()
        writeSource.cancel()
        // A suspended or never-activated source must be resumed for its cancel handler to run and before release.
        if !readActive { readSource.resume() }
        if readsPaused { readSource.resume() }
        if !writeActive { writeSource.resume() }
        onCleanup?()
        onCleanup = nil
    }
}
