msg = ‘it’s done’   
x = 1
    y = 2
