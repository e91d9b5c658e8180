"""The operator console: web pages over the four services' admin APIs (a backend-for-frontend).

It keeps no business data: only operators' sessions and the audit log of what they did."""
