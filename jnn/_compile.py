def compile(fn): raise NotImplementedError
