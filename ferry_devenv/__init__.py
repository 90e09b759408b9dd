"""The development environment: real parts to run ferry against, started on free loopback ports.

A Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, and for workloads
kube-scheduler + kwok), Git servers (git daemon, smart HTTP with basic auth, sshd), a Helm chart
repository and redis-server. Tests, benchmarks and ``make run`` use it; ferry's own components
never import it (import-linter enforces that).

Every process started here is stopped by its owner's ``stop()``; as a last resort each child gets
SIGKILL when the process that started it dies (``PR_SET_PDEATHSIG``), so an interrupted or killed
test run leaves no orphans. Start processes from the main thread: the death signal follows the
thread that forked.
"""
