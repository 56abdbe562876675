/// The pieces of strict configuration decoding that the core's configuration types use in their
/// `init(from:)`. The YAML reading itself (file, line and key path in every error) lives in
/// the `ConfigFiles` target, so the core depends on no parser.
/// Coding keys that list every valid key, so the decoder can reject the others.
///
/// Every configuration type's `CodingKeys` conforms: an unknown key is an error naming the
/// file, line and key path, with the nearest valid key as a suggestion, never silently ignored.
public protocol StrictCodingKey: CodingKey, CaseIterable {}

/// String-backed enums decoded with a "did you mean" on typos.
public protocol ConfigEnum: CaseIterable, RawRepresentable, Decodable where RawValue == String {}

extension Algorithm: ConfigEnum {}
extension ConsistentHashMethod: ConfigEnum {}
extension ActiveHealthCheck.InitialState: ConfigEnum {}
extension ActiveHealthCheck.Counting: ConfigEnum {}

/// A coding key for sequence positions and for mappings whose keys are data (pool names,
/// header names) rather than a fixed set.
public struct DynamicCodingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue }
    public init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}
