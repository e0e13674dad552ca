"""Server-rendered pages: upload and result, about, compare; their forms and charts."""
