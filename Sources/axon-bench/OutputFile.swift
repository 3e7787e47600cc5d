import Foundation

/// The `--json` and `--svg` files: checked before anything is measured, written at the end.
enum OutputFile {
    /// Throws unless `path` can be written: its directory exists and is writable, and it is not a directory or a
    /// read-only file.
    static func checkWritable(_ path: String) throws(BenchError) {
        guard !path.isEmpty else { throw BenchError("an output path is empty") }
        let url = URL(fileURLWithPath: path)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else { throw BenchError("cannot write \(path): it is a directory") }
            guard manager.isWritableFile(atPath: url.path) else { throw BenchError("cannot write \(path): the file is not writable") }
            return
        }
        let directory = url.deletingLastPathComponent().path
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BenchError("cannot write \(path): the directory \(directory) does not exist")
        }
        guard manager.isWritableFile(atPath: directory) else { throw BenchError("cannot write \(path): the directory \(directory) is not writable") }
    }

    static func write(_ data: Data, to path: String) throws(BenchError) {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw BenchError("cannot write \(path): \(error.localizedDescription)") }
    }
}
