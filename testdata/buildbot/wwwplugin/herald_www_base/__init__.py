# An empty stand-in for the buildbot-www package, which Debian does not ship. Buildbot's web
# service refuses to start without a www plugin named "base", and without the web service the
# master serves neither /api/v2 nor /ws, which is all herald's tests need. It is found through
# the egg-info directory beside it when this folder is on PYTHONPATH, so no pip is needed.
from buildbot.www.plugin import Application

ep = Application(__name__, "herald test stand-in for buildbot-www (no UI)")
