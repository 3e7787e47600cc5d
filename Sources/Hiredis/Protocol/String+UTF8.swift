import Glibc

extension String {
    /// `bytes` as text when they are valid UTF-8, else `nil`: what `String(validating:as:)` does, without its
    /// cost per call here (that initializer is generic and unspecialized on this toolchain: it looks up generic
    /// metadata on every call, which showed in the memory layer's profile). `String(decoding:as:)` validates on
    /// its fast path and repairs only invalid input; equal bytes afterwards mean nothing was repaired.
    package init?(validUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        let same = text.utf8.count == bytes.count && (text.utf8.withContiguousStorageIfAvailable { decoded in
            guard let left = decoded.baseAddress, let right = bytes.baseAddress else { return true }  // both empty
            return memcmp(left, right, bytes.count) == 0
        } ?? text.utf8.elementsEqual(bytes))
        guard same else { return nil }
        self = text
    }

    /// `init?(validUTF8:)` of an array's bytes.
    package init?(validUTF8 bytes: [UInt8]) {
        guard let text = bytes.withUnsafeBufferPointer({ String(validUTF8: $0) }) else { return nil }
        self = text
    }
}
