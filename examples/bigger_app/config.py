app_name = "Bigger Applications"
version = "0.1.0"
