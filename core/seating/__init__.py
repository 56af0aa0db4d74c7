"""Reserved seating (docs/seating.md): the plan, best available, the seats of bookings and
tickets, and the seat map the drainer keeps in Redis."""
