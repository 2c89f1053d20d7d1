"""migtui demo: an embedded shop database, simulated traffic, and a migration story."""
