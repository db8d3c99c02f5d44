"""The dashboard at /app (issue 16): sign-in, sessions, CSRF, security headers, templates and static files.

Pages (queue, alert, figures) mount themselves next to these with `mount_queue` / `mount_figures`; they
build on `session.require_user` / `session.require_csrf` and `templating.render`.
"""
