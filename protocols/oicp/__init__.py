"""OICP 2.3, the protocol of the Hubject roaming platform."""
