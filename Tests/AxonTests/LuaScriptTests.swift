@testable import Axon
import Foundation
import Testing

/// The Lua files are the source of the scripts: the embedded copies must be current (`make lua`).
@Suite("Lua scripts")
struct LuaScriptTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Axon/Adapters/Lua").standardized

    /// `name` with its `--@include` lines expanded as scripts/embed-lua.py does.
    static func expand(_ name: String) throws -> String {
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            if line.hasPrefix("--@include ") {
                lines.append(try included(String(line.dropFirst("--@include ".count)), using: text))
            } else {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The parts of `name`.lua (separated by blank lines) that `using` needs: the first, and each function `using`
    /// calls, with the functions those call, in the file's order.
    static func included(_ name: String, using: String) throws -> String {
        var text = try String(contentsOf: folder.appendingPathComponent(name + ".lua"), encoding: .utf8)
        while text.hasSuffix("\n") { text.removeLast() }
        let parts = text.components(separatedBy: "\n\n")
        var defined: [String: Int] = [:]
        for (index, part) in parts.enumerated() {
            if let line = part.split(separator: "\n").first(where: { $0.hasPrefix("local function ") }) {
                defined[String(line.dropFirst("local function ".count).prefix { $0.isLetter || $0.isNumber || $0 == "_" })] = index
            }
        }
        func calls(_ text: String) throws -> Set<String> {
            let code = text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { line in line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line) }.joined(separator: "\n")
            return Set(try defined.keys.filter { code.contains(try Regex("\\b\($0)\\s*\\(")) })
        }
        var wanted: Set<String> = []
        var pending = try calls(using)
        while let function = pending.popFirst() {
            guard wanted.insert(function).inserted, let index = defined[function] else { continue }
            pending.formUnion(try calls(parts[index]).subtracting([function]))
        }
        let indexes = Set(wanted.compactMap { defined[$0] })
        return parts.enumerated().filter { $0.offset == 0 || indexes.contains($0.offset) }.map(\.element).joined(separator: "\n\n")
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
        #expect(MemoryScripts.recallSource.contains("out[#out + 1] = candidate[1]\n  out[#out + 1] = candidate[9]\n  out[#out + 1] = candidate[8]"))
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
