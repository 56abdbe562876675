"""Checks Envoy bootstrap files (YAML) against Envoy's v3 API offline: field names, types, enums,
durations and the typed_config of the filters lbsim writes, through the protobuf classes that
envoy-data-plane generates from Envoy's own .proto files (Envoy itself is not packaged for
Debian). Not checked: protoc-gen-validate rules (required fields, ranges)."""
import keyword, sys, yaml
import betterproto2
import envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3  # registers the Any types
import envoy_data_plane.envoy.extensions.filters.http.router.v3
import envoy_data_plane.envoy.extensions.filters.network.tcp_proxy.v3
from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap

# The files use proto field names (snake_case); betterproto2 would re-case `consecutive_5xx`.
_original = betterproto2.safe_snake_case
betterproto2.safe_snake_case = lambda key: key if key == key.lower() and not keyword.iskeyword(key) else _original(key)

failed = False
for path in sys.argv[1:]:
    try:
        Bootstrap().from_dict(yaml.safe_load(open(path)))
        print(path, "ok")
    except Exception as error:
        print(f"{path}: not a valid Envoy v3 bootstrap: {type(error).__name__}: {error}", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
