"""Alarm notifications: routing (:mod:`.routes`), what to say to whom and when (:mod:`.plan`,
pure), the notification log (:mod:`.store`), delivery through apprise (:mod:`.deliver`) and
the notifier loop that ``pvmon notify`` runs (:mod:`.service`)."""
