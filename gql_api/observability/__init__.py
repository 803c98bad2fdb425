"""What operators see: Prometheus metrics (`metrics`), JSON log lines (`logging`), one access line per
request (`access_log`). Never tokens, variables, bodies or query strings."""
