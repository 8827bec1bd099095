"""Device drivers: hardware in, typed readings out (scales, barriers)."""
