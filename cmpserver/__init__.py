"""ferry-cmp-server: one config management plugin (an Argo CD plugin.yaml) served to the repo
server on a Unix socket (protos/ferry/v1/cmp.proto). It imports ferry only, never another
component."""
