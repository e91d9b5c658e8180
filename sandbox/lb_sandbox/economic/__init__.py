"""An in-memory emulation of e-conomic's REST API, served under /economic."""
