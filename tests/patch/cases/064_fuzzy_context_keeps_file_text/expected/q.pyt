msg = ‘it’s done’   
x = 2
    y = 2
