"""One module per ML Commons resource. Getters return None on 404; deletes tolerate missing resources."""
