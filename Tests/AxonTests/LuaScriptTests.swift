@testable import Axon
import Foundation
import Testing

/// The Lua files are the source of the scripts: the embedded copies must be current (`make lua`).
@Suite("Lua scripts")
struct LuaScriptTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Axon/Adapters/Lua").standardized

    static func expand(_ name: String) throws -> String {
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            if line.hasPrefix("--@include ") {
                lines.append(try expand(line.dropFirst("--@include ".count) + ".lua").trimmingCharacters(in: .newlines))
            } else {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func embeddedScriptsMatchTheirFiles() throws {
        let embedded = [
            "store-6.lua": MemoryScripts.storeSource, "get-6.lua": MemoryScripts.getSource, "forget-5.lua": MemoryScripts.forgetSource,
            "recall-2.lua": MemoryScripts.recallSource, "page-2.lua": MemoryScripts.pageSource, "clear-4.lua": MemoryScripts.clearSource,
            "sweep-4.lua": MemoryScripts.sweepSource, "rebuild-4.lua": MemoryScripts.rebuildSource,
            "storeMany-4.lua": MemoryScripts.storeManySource,
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".lua") && $0.contains("-") }
        #expect(Set(files) == Set(embedded.keys))
        for (file, source) in embedded {
            #expect(try Self.expand(file) == source + "\n", "\(file) changed: run `make lua`")
        }
    }

    @Test func readsReturnWhatTheCodecDecodes() {
        // EntryCodec.entry decodes a record and a body: get returns {record, body}, recall and page id, record, body, ...
        #expect(MemoryScripts.getSource.contains("return {record, body}"))
        #expect(MemoryScripts.recallSource.contains("out[#out + 1] = top[1]\n        out[#out + 1] = top[9]\n        out[#out + 1] = body"))
        #expect(MemoryScripts.pageSource.contains("out[#out + 1] = items[k]\n      out[#out + 1] = record\n      out[#out + 1] = body"))
    }

    @Test func keyCountsInFileNamesMatchTheCalls() throws {
        // `store-4.lua` takes 4 keys: the number after the dash is what the adapter passes.
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.folder.path) where file.contains("-") {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
            let count = Int(file.split(separator: "-").last?.split(separator: ".").first ?? "") ?? -1
            #expect(text.contains("KEYS[\(count)]") && !text.contains("KEYS[\(count + 1)]"), "\(file)")
        }
    }
}
