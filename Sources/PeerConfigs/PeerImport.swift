/// `lbsim import`: a peer's configuration file as a scenario.
public enum PeerImport {
    public static func read(_ text: String, file: String, format: PeerFormat) throws -> ImportResult {
        switch format {
        case .nginx: try NginxImporter.read(text, file: file)
        case .haproxy: try HAProxyImporter.read(text, file: file)
        case .envoy: try EnvoyImporter.read(text, file: file)
        }
    }
}
