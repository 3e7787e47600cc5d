import Foundation

/// How recall turns text into words, in one place for both adapters, the word index and the ranking.
///
/// A word is a run of letters and digits, lowercased and NFC-normalised (so `"café"` precomposed and
/// decomposed are one word); everything else separates words. Words longer than `maxWordBytes` UTF-8 bytes
/// are dropped: they are not indexed and never match. Of an entry's text only a window counts: the words
/// from the start up to `maxTextWords` words or `maxDistinctTextWords` distinct words, whichever comes first.
/// Every word of every tag counts. A query uses its first `maxQueryWords` words. Text and query are read up to
/// their first `maxScanBytes` bytes (a word cut there is dropped), so a huge text costs no more than a long one.
package enum SearchWords {
    /// The longest word kept, in UTF-8 bytes.
    package static let maxWordBytes = 64
    /// The most words of an entry's text that recall looks at.
    package static let maxTextWords = 1000
    /// The most distinct words of an entry's text that are indexed.
    package static let maxDistinctTextWords = 200
    /// The most words of a query that count.
    package static let maxQueryWords = 32
    /// How much of an entry's text or a query is read, in UTF-8 bytes.
    package static let maxScanBytes = 65_536

    /// The words of `text` in order, at most `limit` of them and at most `distinctLimit` distinct ones.
    package static func words(_ text: String, limit: Int = .max, distinctLimit: Int = .max, maxBytes: Int = .max) -> [String] {
        var collector = Collector(limit: limit, distinctLimit: distinctLimit)
        let scanned = text.utf8.prefix(maxBytes)
        if scanned.allSatisfy({ $0 < 0x80 }) {
            collector.scanASCII(scanned, truncated: scanned.count < text.utf8.count)
        } else {
            collector.scanUnicode(text, maxBytes: maxBytes)
        }
        return collector.words
    }

    /// The window of an entry's text that recall indexes and matches.
    package static func textWindow(_ text: String) -> [String] {
        words(text, limit: maxTextWords, distinctLimit: maxDistinctTextWords, maxBytes: maxScanBytes)
    }

    /// A query's words.
    package static func query(_ text: String) -> [String] {
        words(text, limit: maxQueryWords, maxBytes: maxScanBytes)
    }

    private struct Collector {
        let limit: Int
        let distinctLimit: Int
        var words: [String] = []
        var distinct: Set<String> = []
        var full: Bool { words.count >= limit }

        init(limit: Int, distinctLimit: Int) {
            self.limit = limit
            self.distinctLimit = distinctLimit
        }

        /// Adds a finished word; returns false when the window is full.
        mutating func add(_ word: String) -> Bool {
            guard !word.isEmpty, word.utf8.count <= SearchWords.maxWordBytes else { return true }
            if !distinct.contains(word) {
                guard distinct.count < distinctLimit else { return false }
                distinct.insert(word)
            }
            words.append(word)
            return words.count < limit
        }

        /// ASCII text: bytes, lowercased by hand (the same result as the Unicode path for ASCII).
        mutating func scanASCII(_ bytes: Substring.UTF8View, truncated: Bool) {
            var current: [UInt8] = []
            for byte in bytes {
                switch byte {
                // A word past the longest kept is dropped by `add`: stop growing it one byte over.
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if current.count <= SearchWords.maxWordBytes { current.append(byte) }
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    if current.count <= SearchWords.maxWordBytes { current.append(byte + 32) }
                default:
                    if !current.isEmpty {
                        guard add(String(decoding: current, as: UTF8.self)) else { return }
                        current.removeAll(keepingCapacity: true)
                    }
                }
            }
            if !current.isEmpty && !truncated { _ = add(String(decoding: current, as: UTF8.self)) }
        }

        mutating func scanUnicode(_ text: String, maxBytes: Int) {
            var current = ""
            var currentBytes = 0
            var scanned = 0
            for character in text {
                let size = character.utf8.count
                scanned += size
                if scanned > maxBytes { return }
                if character.isLetter || character.isNumber {
                    // Kept up to a few bytes over the limit (lowercasing can change the length; `add` decides).
                    if currentBytes <= SearchWords.maxWordBytes * 2 { current.append(character) }
                    currentBytes += size
                } else if !current.isEmpty {
                    if currentBytes <= SearchWords.maxWordBytes * 2 {
                        guard add(TextNormalization.nfc(current.lowercased())) else { return }
                    }
                    current = ""
                    currentBytes = 0
                }
            }
            if !current.isEmpty && currentBytes <= SearchWords.maxWordBytes * 2 { _ = add(TextNormalization.nfc(current.lowercased())) }
        }
    }
}

/// Unicode NFC normalisation of what the memory layer keys or compares: namespaces, tags, user and session
/// ids, metadata, words. Canonically equivalent strings then have the same bytes in Redis, as they already
/// compare equal in Swift.
package enum TextNormalization {
    /// `text` in Normalization Form C (ASCII is returned as it is).
    package static func nfc(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        return text.precomposedStringWithCanonicalMapping
    }
}
