"""One module per business area; each function is a verb_noun taking the unit of work first."""
