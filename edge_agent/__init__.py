"""The gate-box agent: drivers, ANPR, lane, store with outbox, MQTT sync."""
