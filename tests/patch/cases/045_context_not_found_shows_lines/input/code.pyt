def run():
    other_call()
