"""The signer service: Kafka sign requests → XML-DSig → sign results, plus HTTP /sign and /verify."""
