#if canImport(Glibc)
import Glibc
#endif

/// hiredis writes with `write(2)`, which raises SIGPIPE on a socket the peer closed; the default action kills
/// the process. The first connection sets SIGPIPE to ignored, process-wide (as servers commonly do), so a
/// dead peer is an `EPIPE` error instead.
enum IgnoreSIGPIPE {
    private static let installed: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Installs the disposition on first use; later calls do nothing.
    static func once() { _ = installed }
}
