"""ferry-notifications-controller: Argo CD's notifications (triggers, templates, services,
subscriptions) for ferry's Applications. See docs/notifications.md."""
